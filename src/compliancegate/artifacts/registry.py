"""The registry of artifact formats and detection of a file's format from its content.

Adding a format is one module exposing ``FORMAT`` and one line in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from functools import cache

from compliancegate.artifacts.interface import RAW_KIND, ArtifactFormat
from compliancegate.artifacts.source import Source
from compliancegate.errors import ArtifactError

_MODULES = (
    # Normalized formats come first: detection asks each whether it claims a file, in order,
    # before falling back to the raw format of the file's syntax.
    # A file may be claimed by several (a CycloneDX BOM with components and vulnerabilities,
    # a SARIF log with security-severity): the first is its detected format, and a policy
    # asking for a kind reads it with the first claiming format of that kind (formats_for).
    "cyclonedx",
    "cyclonedx_vex",
    "spdx",
    "trivy",
    "trivy_misconfig",
    "grype",
    "sarif",
    "sarif_vulnerabilities",
    "junit",
    "cobertura",
    "lcov",
    "provenance",
    "evidence",
    "git",  # never claims a file: input: git is served by ArtifactStore.select
    # Kubernetes manifests, last of the normalized: any other format's claim comes first.
    "kubernetes",
    "kubernetes_json",
    "raw_json",
    "raw_yaml",
    "raw_toml",
    "raw_xml",
)

SYNTAXES = ("json", "yaml", "toml", "xml")
_SUFFIX_SYNTAX = {
    ".json": "json",
    ".sarif": "json",
    ".jsonl": "json",  # JSON Lines: in-toto attestations, one envelope per line
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".xml": "xml",
    # Text syntaxes have no raw format: a file is an artifact only if a format claims it
    # by content (lcov tracefiles start with TN: or SF:).
    ".info": "text",
    ".lcov": "text",
}


@cache
def formats() -> dict[str, ArtifactFormat]:
    """Every known format by name, in detection order."""
    loaded: dict[str, ArtifactFormat] = {}
    for module_name in _MODULES:
        module = importlib.import_module(f"compliancegate.artifacts.{module_name}")
        fmt: ArtifactFormat = module.FORMAT
        loaded[fmt.name] = fmt
    return loaded


def get_format(name: str) -> ArtifactFormat | None:
    """The format called ``name``, or None."""
    return formats().get(name)


def known_inputs() -> tuple[set[str], set[str]]:
    """(normalized kinds, format names) that a policy's ``input`` may name."""
    from compliancegate.artifacts.kinds import KINDS

    return set(KINDS), set(formats())


def syntax_of(source: Source) -> str | None:
    """The file's syntax from its suffix, else from its first bytes; None if not an artifact."""
    syntax = suffix_syntax(source.path.name)
    if syntax is not None:
        return syntax
    start = source.head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]  # a UTF-8 BOM first
    if start in (b"{", b"["):
        return "json"
    if start == b"<":
        return "xml"
    return None


def suffix_syntax(name: str) -> str | None:
    """The syntax a file name's suffix gives, or None."""
    lower = name.lower()
    for suffix, syntax in _SUFFIX_SYNTAX.items():
        if lower.endswith(suffix):
            return syntax
    return None


def formats_for(source: Source) -> list[ArtifactFormat]:
    """Every normalized format claiming ``source``, in detection order, else the raw format
    of its syntax; empty when it is not an artifact.

    One file can hold two normalized documents (a CycloneDX BOM's components and its
    vulnerabilities), so more than one format may claim it; ``detect`` takes the first.
    A file that cannot be read at all (not a regular file, a link out of the release; of a
    known syntax and larger than the limit) raises ``ArtifactError``: it cannot be typed,
    which the caller must not take for "not an artifact". A large file whose first bytes
    say it is not JSON or XML (a binary, a tarball) is not an artifact and is not read. A
    sniff that fails on hostile content claims the file, so that the failure surfaces as an
    error of the policies reading that format, never as a silent raw file.
    """
    source.check()
    syntax = syntax_of(source)
    if syntax is None:
        return []
    source.data  # noqa: B018 - a file of a known syntax over the size limit cannot be typed
    claiming: list[ArtifactFormat] = []
    fallback: ArtifactFormat | None = None
    for fmt in formats().values():
        if fmt.syntax != syntax:
            continue
        if fmt.kind == RAW_KIND:
            fallback = fallback or fmt
            continue
        try:
            claims = fmt.sniff(source)
        except ArtifactError:
            raise  # the file cannot be read: not a claim, not a refusal of the format
        except (Exception, RecursionError):
            claims = True
        if claims:
            claiming.append(fmt)
    if claiming:
        return claiming
    return [fallback] if fallback is not None else []


def detect(source: Source) -> ArtifactFormat | None:
    """The most specific format claiming ``source``, or None when it is not an artifact."""
    claiming = formats_for(source)
    return claiming[0] if claiming else None
