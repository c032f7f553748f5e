"""The release variants of the producer tests: the producers' JSON re-serialized with keys
sorted (as ``jq -S`` writes it) or reversed, JSON and XML padded to an exact size with content
each format allows and ignores (a SARIF run's property bag, a CycloneDX ``metadata``
property, an XML comment inside the root), and the policies the sample is gated with.
"""

from __future__ import annotations

import json
from typing import Any

GATE_POLICIES = ("findings.yaml", "tests.yaml", "coverage.yaml", "sbom.yaml")
"""The starter policy files that fit a Python project's Bandit, Ruff, pytest, coverage.py and
cyclonedx-py output (the vulnerability policies need a scanner report, which it has not)."""

SAMPLE_POLICIES_YAML = """\
# The sample project's own policies: its one known-vulnerable pin, found from the SBOM, and
# proof that both analyzers reported (so a SARIF file that is not read cannot pass).
apiVersion: compliancegate/v1
kind: Policy
id: sample-no-vulnerable-pins
title: No pinned dependency with a known vulnerability
controls: [nist-800-53-r5:RA-5, nist-800-53-r5:SI-2]
severity: high
enforcement: block
input: sbom
required: true
key: "purl || name"
rule:
  for_each: components
  where: {path: purl, op: matches, value: '^pkg:pypi/requests@'}
  assert: {path: version, op: version_gte, value: "2.20.0"}
message: "{item.name}@{item.version} is affected by CVE-2018-18074 (fixed in 2.20.0)"
remediation: "Pin {item.name} 2.20.0 or later in requirements.txt"
---
apiVersion: compliancegate/v1
kind: Policy
id: sample-both-analyzers-ran
title: Both Bandit and Ruff reported
controls: [nist-800-53-r5:SA-11]
severity: high
enforcement: block
input: findings
required: true
rule:
  all:
    - {path: "sources[?ends_with(@, 'bandit.sarif')] | [0]", op: exists}
    - {path: "sources[?ends_with(@, 'ruff.sarif')] | [0]", op: exists}
message: "the release lacks Bandit's or Ruff's SARIF (read: {item.sources})"
remediation: "Publish reports/bandit.sarif and reports/ruff.sarif with the release"
"""


def reverse_keys(value: Any) -> Any:
    """``value`` with the keys of every object in reverse order."""
    if isinstance(value, dict):
        return {k: reverse_keys(value[k]) for k in reversed(value)}
    if isinstance(value, list):
        return [reverse_keys(v) for v in value]
    return value


def serialize(data: Any, order: str) -> str:
    """``data`` as JSON with its keys ``as-written``, ``sorted`` or ``reversed``."""
    if order == "sorted":
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False)
    if order == "reversed":
        return json.dumps(reverse_keys(data), indent=2, ensure_ascii=False)
    return json.dumps(data, indent=2, ensure_ascii=False)


def _with_padding(name: str, data: Any, padding: str) -> Any:
    padded = json.loads(json.dumps(data))
    if name in ("bandit", "ruff"):
        # A SARIF property bag: free-form, ignored by every consumer that does not know it.
        padded["runs"][0].setdefault("properties", {})["padding"] = padding
    elif name == "sbom":
        padded["metadata"].setdefault("properties", []).append(
            {"name": "padding", "value": padding}
        )
    else:
        raise ValueError(f"no padding for {name}")
    return padded


def pad_json(name: str, data: Any, order: str, size: int) -> str:
    """The JSON artifact ``name`` (``bandit``, ``ruff``, ``sbom``) serialized in ``order`` and
    padded to exactly ``size`` bytes of UTF-8."""
    base = len(serialize(_with_padding(name, data, ""), order).encode("utf-8"))
    if size < base:
        raise ValueError(f"{name} is {base} bytes before padding, more than {size}")
    text = serialize(_with_padding(name, data, "x" * (size - base)), order)
    assert len(text.encode("utf-8")) == size
    return text


def pad_xml(data: bytes, size: int) -> bytes:
    """The XML document ``data`` padded to exactly ``size`` bytes by a comment just before
    the root element's end tag."""
    end = data.rindex(b"</")
    room = size - len(data) - len(b"<!---->")
    if room < 0:
        raise ValueError(f"the document is {len(data)} bytes, more than {size}")
    return data[:end] + b"<!--" + b"x" * room + b"-->" + data[end:]
