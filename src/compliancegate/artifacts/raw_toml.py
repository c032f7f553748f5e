"""Any TOML document, dates as ISO 8601 strings."""

from __future__ import annotations

from compliancegate.artifacts.interface import RAW_KIND
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact


class RawToml:
    """TOML handed to policies as parsed."""

    name = "toml"
    kind = RAW_KIND
    syntax = "toml"

    def sniff(self, source: Source) -> bool:
        """The raw format is the fallback for its syntax."""
        return True

    def parse(self, source: Source) -> list[Artifact]:
        """One artifact: the document."""
        return [Artifact(source.display, self.name, self.kind, self.syntax, source.toml, line=1)]


FORMAT = RawToml()
