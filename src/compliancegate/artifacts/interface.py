"""The interface every artifact format implements, and the source it reads from."""

from __future__ import annotations

from typing import Protocol

from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

RAW_KIND = "raw"
"""The kind of documents passed to policies as parsed, without normalization."""


class ArtifactFormat(Protocol):
    """A file format compliancegate can read.

    Raw formats (``json``, ``yaml``, ``toml``, ``xml``) hand policies the document as parsed.
    Normalized formats (issue 3: SARIF, CycloneDX, JUnit...) turn a file into one of the
    normalized kinds of SPEC section 5, so that one policy serves every producer.
    """

    name: str
    """The format's name, used in ``input:``, ``format:`` and ``parse --format``."""
    kind: str
    """The kind of document produced: ``raw`` or a normalized kind such as ``tests``."""
    syntax: str
    """The file syntax it reads: ``json``, ``yaml``, ``toml``, ``xml`` or ``text``."""

    def sniff(self, source: Source) -> bool:
        """Whether this source looks like this format, in any key order and at any size
        (see ``sniffing``); ``parse`` then refuses what is not exactly this format."""
        ...

    def parse(self, source: Source) -> list[Artifact]:
        """Parse and normalize; raise ``ArtifactError`` naming the file for bad content."""
        ...
