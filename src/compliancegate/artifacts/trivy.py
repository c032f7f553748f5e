"""Trivy JSON reports (``--format json``, ``SchemaVersion`` 2): the vulnerabilities of every
result, as ``vulnerabilities``.

Each ``Results[]`` entry is one scanned target (an image's OS packages, a lock file); each of
its ``Vulnerabilities`` is one item with ``target`` the result's ``Target``. Severity is
Trivy's ``Severity`` word; ``cvss`` the highest v3 (or v4) score of any source in ``CVSS``
(v2 only when there is nothing newer); ``fixed_version`` the first of ``FixedVersion``
(Trivy lists one per release line: ``"6.0.3.1, 5.2.4.3"``).

A report with only misconfiguration or secret results says nothing about vulnerabilities:
it is not claimed here (it would pass "no critical vulnerability" without having looked),
and its misconfigurations are the ``trivy-misconfig`` format (kind ``findings``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from compliancegate.artifacts import jsonread as jr
from compliancegate.artifacts import severity as sev
from compliancegate.artifacts import sniffing as sn
from compliancegate.artifacts.source import Source
from compliancegate.model import Artifact

# For content that is not one JSON document (truncated): markers anywhere in the bytes.
_SCHEMA = re.compile(rb'"SchemaVersion"\s*:')
_TRIVY_KEYS = re.compile(rb'"(?:ArtifactName|ArtifactType|Results)"\s*:')
_CLASS = re.compile(rb'"Class"\s*:')
_VULNERABILITY_BYTES = re.compile(rb'"Vulnerabilities"\s*:|"Class"\s*:\s*"(?:os-pkgs|lang-pkgs)"')
_MISCONFIG_BYTES = re.compile(rb'"Misconfigurations"\s*:|"Class"\s*:\s*"config"')
_PACKAGE_CLASSES = ("os-pkgs", "lang-pkgs")
_REPORT_KEYS = {"ArtifactName", "ArtifactType", "Results"}
_RESULT_KEYS = {"Target", "Class", "Vulnerabilities", "Misconfigurations", "Secrets"}
WHAT = "Trivy JSON report"


@dataclass(frozen=True)
class Scan:
    """What a file that looks like a Trivy report says was scanned, for detection."""

    vulnerabilities: bool
    """Packages were scanned for vulnerabilities (the ``trivy`` format claims it)."""
    misconfigurations: bool
    """Configuration was scanned (the ``trivy-misconfig`` format claims it)."""


def scan_of(source: Source) -> Scan | None:
    """None when the file does not look like a Trivy report; else what it scanned.

    It looks like one with a ``SchemaVersion`` (any: ``parse`` refuses one that is not 2)
    beside ``ArtifactName``, ``ArtifactType`` or ``Results``, or with a ``Results`` list of
    Trivy results (``Target``, ``Class``...); in any key order and at any size. A result of
    a package class, or any ``Vulnerabilities`` list, shows that vulnerabilities were looked
    for (Trivy omits ``Vulnerabilities`` from a package result where it found none).
    """
    document = sn.json_document(source)
    if document is sn.UNPARSED:
        if not sn.found_in_bytes(source, _SCHEMA, _TRIVY_KEYS):
            return None
        return Scan(
            sn.found_in_bytes(source, _VULNERABILITY_BYTES)
            or not sn.found_in_bytes(source, _CLASS),
            sn.found_in_bytes(source, _MISCONFIG_BYTES),
        )
    if not isinstance(document, dict):
        return None
    found = document.get("Results")
    listed = list(sn.objects(found))
    looks = ("SchemaVersion" in document and _REPORT_KEYS & document.keys()) or any(
        _RESULT_KEYS & result.keys() for result in listed
    )
    if not looks:
        return None
    if found is not None and not isinstance(found, list):
        return Scan(True, False)  # claimed, so that parse reports the wrong type
    classes = [r.get("Class") for r in listed]
    vulnerabilities = any("Vulnerabilities" in r for r in listed) or any(
        c in _PACKAGE_CLASSES for c in classes
    )
    misconfigurations = any("Misconfigurations" in r for r in listed) or "config" in classes
    if not any("Class" in r for r in listed):
        vulnerabilities = True  # no result at all, or results without a class
    # Results that are not objects: claimed, so that parse reports them.
    if len(listed) < len(found or []):
        vulnerabilities = True
    return Scan(vulnerabilities, misconfigurations)


def results(reader: jr.Reader) -> list[tuple[str, dict[str, Any]]]:
    """``(path, result)`` for each entry of ``Results``; a report whose ``SchemaVersion`` is
    not 2 is refused (another schema may put its findings elsewhere)."""
    document = reader.root()
    version = document.get("SchemaVersion")
    if version != 2 or isinstance(version, bool):
        shown = "missing" if version is None else repr(version)[:40]
        raise reader.source.error(
            f"not a {WHAT} that can be read: SchemaVersion is {shown}, expected 2",
            hint="write the report with a Trivy release that writes SchemaVersion 2 "
            "(trivy --format json), or name the format in the policy's input",
        )
    return list(reader.items(document.get("Results"), "Results"))


_INFINITY = float("inf")


def _score(value: Any) -> float | None:
    """``jr.number`` for the common case, a float or an int, without its calls."""
    kind = type(value)
    if kind is float:
        return value if -_INFINITY < value < _INFINITY else None  # false for NaN too
    if kind is int:
        return jr.number(value)  # may overflow a float
    return None if value is None else jr.number(value)


def _fast_cvss(reader: jr.Reader, value: Any, result_path: str, index: int) -> float | None:
    """The highest CVSS base score of ``Vulnerabilities[index]`` of a result: v3 and v4
    scores of every source first, v2 only when nothing newer is given (``jr.best_cvss``),
    with the JSON path built only for an error."""
    if value is None:
        return None
    if type(value) is not dict:
        raise reader.error(f"{result_path}.Vulnerabilities[{index}].CVSS", "an object", value)
    modern: float | None = None
    legacy: float | None = None
    for name, entry in value.items():
        if type(entry) is not dict:
            if entry is None:
                continue
            path = f"{result_path}.Vulnerabilities[{index}].CVSS.{name}"
            raise reader.error(path, "an object", entry)
        for key in ("V3Score", "V40Score"):
            score = _score(entry.get(key))
            if score is not None and 0.0 <= score <= 10.0 and (modern is None or score > modern):
                modern = score
        score = _score(entry.get("V2Score"))
        if score is not None and 0.0 <= score <= 10.0 and (legacy is None or score > legacy):
            legacy = score
    return modern if modern is not None else legacy


class Trivy:
    """Trivy JSON vulnerabilities."""

    name = "trivy"
    kind = "vulnerabilities"
    syntax = "json"

    def sniff(self, source: Source) -> bool:
        """A Trivy report that scanned packages (or one with no results at all)."""
        scan = scan_of(source)
        return scan is not None and scan.vulnerabilities

    def parse(self, source: Source) -> list[Artifact]:
        """One item per vulnerability of every result.

        The fields are those ``jr.vulnerability`` builds, read as ``jr.text``,
        ``jr.version_text``, ``jr.first_version``, ``jr.title`` and ``jr.best_cvss`` read
        them, inlined: a report holds up to hundreds of thousands of vulnerabilities, and the
        calls and the JSON paths (built here only for an error) were most of the time.
        ``tests/artifacts/test_normalizer_differential.py`` proves the values the same as the
        helpers' (``tests/artifacts/reference_normalizers.py``).
        """
        reader = jr.Reader(source, WHAT)
        items: list[dict[str, Any]] = []
        append = items.append
        display = source.display
        severities: dict[str, str] = {}
        for path, result in results(reader):
            target = jr.text(result.get("Target"))
            vulnerabilities = result.get("Vulnerabilities")
            if vulnerabilities is None:
                continue
            if type(vulnerabilities) is not list:
                raise reader.error(f"{path}.Vulnerabilities", "a list", vulnerabilities)
            for index, vuln in enumerate(vulnerabilities):
                if type(vuln) is not dict:
                    raise reader.error(f"{path}.Vulnerabilities[{index}]", "an object", vuln)
                get = vuln.get
                word = get("Severity")
                if type(word) is str:
                    severity = severities.get(word)
                    if severity is None:
                        severity = severities[word] = sev.from_word(word)
                else:
                    severity = sev.UNKNOWN
                value = get("VulnerabilityID")
                id_ = (value.strip() or None) if type(value) is str else None
                value = get("PkgName")
                package = (value.strip() or None) if type(value) is str else None
                value = get("InstalledVersion")
                version = (value.strip() or None) if type(value) is str else jr.version_text(value)
                value = get("FixedVersion")
                if type(value) is str:
                    fixed = value.split(",", 1)[0].strip() or None
                else:
                    fixed = jr.first_version(value)
                value = get("Title")
                title: str | None
                if type(value) is str and value and not value.isspace():
                    if len(value) <= jr.TITLE_LIMIT and _PLAIN.fullmatch(value):
                        title = value
                    else:
                        title = jr.title(value)
                else:
                    title = jr.title(value, get("Description"))
                append(
                    {
                        "id": id_,
                        "severity": severity,
                        "package": package,
                        "version": version,
                        "fixed_version": fixed,
                        "title": title,
                        "source_tool": "trivy",
                        "target": target,
                        "cvss": _fast_cvss(reader, get("CVSS"), path, index),
                        "state": None,
                        "known_exploited": None,
                        "source": display,
                    }
                )
        normalized = {"vulnerabilities": items, "sources": [display]}
        return [Artifact(display, self.name, self.kind, self.syntax, normalized)]


# A title that " ".join(title.split()) leaves as it is: no whitespace but single spaces
# between words (str.split() splits at every Unicode whitespace character).
_PLAIN = re.compile(r"\S+(?: \S+)*")


FORMAT = Trivy()
