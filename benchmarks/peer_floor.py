"""The floor: the fastest JSON parse available plus a hand-written loop, as a whole process.

``python benchmarks/peer_floor.py CASE OUT``: parses the artifact in CASE/evidence with orjson
when it is installed (else the standard library's json; JUnit with ElementTree), computes the
violations of each rule of CASE/rules.json with a plain loop per rule over the producer's own
shape (no normalization, no fingerprints, no reports) and writes the messages to OUT as a
JSON list, formatted as the policies format them. It is what any engine must at least pay.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SEVERITY_WORDS = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "moderate": "MEDIUM",
    "low": "LOW",
    "unknown": "UNKNOWN",
}


def load_json(data: bytes) -> Any:
    """Parses with orjson when available: the fastest parser this machine has."""
    try:
        import orjson
    except ImportError:
        return json.loads(data)
    return orjson.loads(data)


def trivy(document: dict[str, Any], rules: list[dict[str, Any]]) -> list[str]:
    """Violations of the severity, fix-available and package-prefix rules."""
    out = []
    results = document.get("Results") or []
    for rule in rules:
        rid, kind = rule["id"], rule["kind"]
        if kind == "severity":
            words = {SEVERITY_WORDS[level] for level in rule["levels"]}
            for result in results:
                if result.get("Target") == rule["target"]:
                    for v in result.get("Vulnerabilities") or []:
                        if v.get("Severity") in words:
                            out.append(
                                f"{rid}|{v['VulnerabilityID']}|{v['PkgName']}|{v['InstalledVersion']}"
                            )
        elif kind == "fix":
            word = SEVERITY_WORDS[rule["level"]]
            for result in results:
                if result.get("Target") == rule["target"]:
                    for v in result.get("Vulnerabilities") or []:
                        if v.get("Severity") == word and v.get("FixedVersion"):
                            out.append(
                                f"{rid}|{v['VulnerabilityID']}|{v['PkgName']}|{v['InstalledVersion']}"
                            )
        else:
            prefix = rule["prefix"]
            for result in results:
                for v in result.get("Vulnerabilities") or []:
                    if v.get("PkgName", "").startswith(prefix):
                        out.append(
                            f"{rid}|{v['VulnerabilityID']}|{v['PkgName']}|{v['InstalledVersion']}"
                        )
    return out


def sbom(document: dict[str, Any], rules: list[dict[str, Any]]) -> list[str]:
    """Violations of the component-prefix and license rules."""
    out = []
    components = document.get("components") or []
    for rule in rules:
        rid = rule["id"]
        if rule["kind"] == "prefix":
            prefix = rule["prefix"]
            for c in components:
                if c.get("name", "").startswith(prefix):
                    out.append(f"{rid}|{c['name']}@{c['version']}")
        else:
            wanted = rule["license"]
            for c in components:
                if any(
                    (entry.get("license") or {}).get("id") == wanted
                    for entry in c.get("licenses") or []
                ):
                    out.append(f"{rid}|{c['name']}@{c['version']}")
    return out


def junit(path: Path, rules: list[dict[str, Any]]) -> list[str]:
    """Violations of the failing-test rules, the cases read with ElementTree."""
    import xml.etree.ElementTree as ET

    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        cases.append((case.get("classname") or "", case.get("name"), failed))
    out = []
    for rule in rules:
        rid, prefix = rule["id"], rule["prefix"]
        for classname, name, failed in cases:
            if failed and classname.startswith(prefix):
                out.append(f"{rid}|{classname}::{name}")
    return out


def main() -> int:
    case, out = Path(sys.argv[1]), Path(sys.argv[2])
    (artifact,) = (case / "evidence").iterdir()
    spec = json.loads((case / "rules.json").read_text(encoding="utf-8"))
    kind, rules = spec["kind"], spec["rules"]
    if kind == "junit":
        messages = junit(artifact, rules)
    else:
        document = load_json(artifact.read_bytes())
        messages = (trivy if kind == "trivy" else sbom)(document, rules)
    out.write_text(json.dumps(messages), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
