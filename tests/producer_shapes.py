"""Reports shaped as real producers write them, key order included: the markers a reader
might look for first are where those producers put them (last), so that tests of detection
and of the gate see what a pipeline really hands over."""

from __future__ import annotations

from typing import Any


def sorted_keys(node: Any) -> Any:
    """``node`` with the keys of every object sorted by name (``jq -S``)."""
    if isinstance(node, dict):
        return {k: sorted_keys(node[k]) for k in sorted(node)}
    if isinstance(node, list):
        return [sorted_keys(v) for v in node]
    return node


def bandit_style_sarif(results: int) -> dict[str, Any]:
    """A SARIF log ordered as Bandit writes it: ``runs`` first, ``version`` and ``$schema``
    last (bandit/formatters/sarif.py builds the log object that way)."""
    return {
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Bandit",
                        "organization": "PyCQA",
                        "rules": [
                            {"id": "B602", "name": "subprocess_popen_with_shell_equals_true"}
                        ],
                        "version": "1.8.6",
                    }
                },
                "invocations": [
                    {"executionSuccessful": True, "endTimeUtc": "2026-11-30T10:00:00Z"}
                ],
                "properties": {"metrics": {"_totals": {"loc": 1000}}},
                "results": [
                    {
                        "message": {"text": f"subprocess call with shell=True ({i})"},
                        "level": "error",
                        "locations": [
                            {
                                "physicalLocation": {
                                    "region": {"startLine": i + 1, "snippet": {"text": "x"}},
                                    "artifactLocation": {"uri": f"app/mod{i}.py"},
                                }
                            }
                        ],
                        "properties": {"issue_severity": "HIGH", "issue_confidence": "HIGH"},
                        "ruleId": "B602",
                        "ruleIndex": 0,
                    }
                    for i in range(results)
                ],
            }
        ],
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
    }


def cyclonedx_py_style_bom(components: int) -> dict[str, Any]:
    """A CycloneDX BOM ordered as cyclonedx-py writes it: the BOM's properties by name, then
    ``$schema``, ``bomFormat`` and ``specVersion`` last."""
    bom = sorted_keys(
        {
            "version": 1,
            "serialNumber": "urn:uuid:00000000-0000-4000-8000-000000000000",
            "metadata": {"component": {"type": "application", "name": "app"}},
            "components": [
                {
                    "type": "library",
                    "bom-ref": f"pkg:pypi/dep{i}@1.0.{i}",
                    "name": f"dep{i}",
                    "version": f"1.0.{i}",
                    "purl": f"pkg:pypi/dep{i}@1.0.{i}",
                    "description": "A dependency with a long description. " * 4,
                }
                for i in range(components)
            ],
            "dependencies": [{"ref": f"pkg:pypi/dep{i}@1.0.{i}"} for i in range(components)],
        }
    )
    return {
        **bom,
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
    }
