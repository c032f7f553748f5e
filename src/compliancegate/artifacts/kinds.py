"""The normalized kinds of SPEC section 5: what each document looks like, how documents of one
kind from several files are combined, and what identifies an item of the kind.

Parsers (one module per format) produce documents of these shapes, so one policy serves
every producer: a policy on ``vulnerabilities`` reads Trivy, Grype, CycloneDX and SARIF alike.
Every item of a list kind carries ``source``, the path of the file it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from compliancegate.model import Artifact


@dataclass(frozen=True)
class Kind:
    """One normalized kind."""

    name: str
    description: str
    merge: Callable[[Sequence[Artifact]], Any] | None = None
    """Combines the documents of several files into one; None: each file on its own."""
    key_fields: tuple[str, ...] = ()
    """Fields of an item that identify it across runs (for fingerprints)."""

    def item_key(self, item: Any) -> Any:
        """The identity of ``item``: its key fields, or None to use its whole content."""
        if not self.key_fields or not isinstance(item, dict):
            return None
        return [item.get(field) for field in self.key_fields]


def _concat(field: str) -> Callable[[Sequence[Artifact]], Any]:
    def merge(artifacts: Sequence[Artifact]) -> Any:
        items: list[Any] = []
        for artifact in artifacts:
            items.extend(artifact.document.get(field) or [])
        return {field: items, "sources": [a.path for a in artifacts]}

    return merge


_TEST_COUNTS = ("tests", "passed", "failures", "errors", "skipped")


def _merge_tests(artifacts: Sequence[Artifact]) -> Any:
    merged: dict[str, Any] = {name: 0 for name in _TEST_COUNTS}
    cases: list[Any] = []
    for artifact in artifacts:
        for name in _TEST_COUNTS:
            merged[name] += artifact.document.get(name) or 0
        cases.extend(artifact.document.get("cases") or [])
    merged["cases"] = cases
    merged["sources"] = [a.path for a in artifacts]
    return merged


def _rate(covered: int, valid: int) -> float | None:
    return round(covered / valid, 6) if valid else None


def _merge_coverage(artifacts: Sequence[Artifact]) -> Any:
    lines_valid = sum(a.document.get("lines_valid") or 0 for a in artifacts)
    lines_covered = sum(a.document.get("lines_covered") or 0 for a in artifacts)
    branches_valid = sum(a.document.get("branches_valid") or 0 for a in artifacts)
    branches_covered = sum(a.document.get("branches_covered") or 0 for a in artifacts)
    files: list[Any] = []
    for artifact in artifacts:
        files.extend(artifact.document.get("files") or [])
    return {
        "line_rate": _rate(lines_covered, lines_valid),
        "branch_rate": _rate(branches_covered, branches_valid),
        "lines_valid": lines_valid,
        "lines_covered": lines_covered,
        "branches_valid": branches_valid,
        "branches_covered": branches_covered,
        "files": files,
        "sources": [a.path for a in artifacts],
    }


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "vulnerabilities",
            "known vulnerabilities from Trivy, Grype, CycloneDX VEX and SARIF scanners",
            merge=_concat("vulnerabilities"),
            # Not `target`: every scanner names what it scanned differently, and the same
            # advisory in the same package version is one thing to fix.
            key_fields=("id", "package", "version"),
        ),
        Kind(
            "findings",
            "SARIF results from static analysers, secret scanners and linters",
            merge=_concat("findings"),
            key_fields=("tool", "rule_id", "file", "fingerprint", "message"),
        ),
        Kind(
            "tests",
            "test results from JUnit XML (pytest, Surefire, jest-junit, go-junit-report...)",
            merge=_merge_tests,
            key_fields=("suite", "name"),
        ),
        Kind(
            "coverage",
            "line and branch coverage from Cobertura XML and lcov",
            merge=_merge_coverage,
        ),
        Kind(
            "sbom",
            "software bills of materials (CycloneDX, SPDX); each file on its own",
            key_fields=("name", "version", "purl"),
        ),
        Kind(
            "provenance",
            "in-toto statements and SLSA provenance, bare or in DSSE envelopes",
            key_fields=("name",),
        ),
        Kind("git", "the repository being gated: commit, branch, signature, changes"),
        Kind(
            "evidence",
            "audit evidence files described by NAME.evidence.yaml sidecars",
        ),
    )
}


def combine(kind_name: str, artifacts: Sequence[Artifact]) -> list[Artifact]:
    """The artifacts a policy on ``kind_name`` evaluates: one combined document for kinds
    that merge (two scanners' reports are one list of findings), else each on its own."""
    kind = KINDS.get(kind_name)
    if kind is None or kind.merge is None or len(artifacts) <= 1:
        return list(artifacts)
    first = artifacts[0]
    return [
        Artifact(
            path=", ".join(a.path for a in artifacts),
            format="+".join(sorted({a.format for a in artifacts})),
            kind=kind.name,
            syntax=first.syntax,
            document=kind.merge(artifacts),
        )
    ]
