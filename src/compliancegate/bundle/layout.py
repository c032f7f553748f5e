"""What an evidence bundle holds, by name, and its manifest.

::

    attestation.dsse.json            DSSE envelope: an in-toto Statement v1 over every other
                                     member, signed with Ed25519 (the one member not listed)
    manifest.json                    scope, ledger segment, runs, and every member's SHA-256
    ledger/records.jsonl             the ledger records of the scope, through the signed head
                                     that covers them
    ledger/heads.jsonl               the signed heads among those records (signed ledgers)
    findings/timelines.json          every finding with an event in the scope, whole
    oscal/assessment-results.json    OSCAL assessment results of the scope's runs
    oscal/poam.json                  OSCAL POA&M of the findings open at the end of the scope
    runs/<run>/run.json              a run: its inputs and artifacts, by digest
    runs/<run>/results.json|.junit.xml|.sarif|assessment-results.json
    inputs/<sha256>/<name>           config, register, policy and waiver files as evaluated
    artifacts/<sha256>/<name>        artifacts as judged (unless the bundle is digests-only)

Everything is JSON with sorted keys and a fixed indent, so the same inputs give the same
bytes; the archive itself is reproducible too (``archive.write_archive``).
"""

from __future__ import annotations

import json
from typing import Any

ENVELOPE = "attestation.dsse.json"
MANIFEST = "manifest.json"
RECORDS = "ledger/records.jsonl"
HEADS = "ledger/heads.jsonl"
TIMELINES = "findings/timelines.json"
ASSESSMENT = "oscal/assessment-results.json"
POAM = "oscal/poam.json"
RUNS = "runs/"
RUN_FILE = "run.json"
INPUTS = "inputs/"
ARTIFACTS = "artifacts/"

API_VERSION = "compliancegate/v1"
MANIFEST_KIND = "EvidenceBundle"
PREDICATE_TYPE = "https://compliancegate.dev/attestation/evidence-bundle/v1"
"""The in-toto predicate type of a bundle's statement."""

OSCAL_MEMBERS = (ASSESSMENT, POAM)


def pretty_json(value: Any) -> bytes:
    """JSON as every bundle member is written: sorted keys, two-space indent, ASCII, a final
    newline; the same value always gives the same bytes."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True, allow_nan=False)
    return (text + "\n").encode("ascii")


def content_name(folder: str, digest: str, path: str) -> str:
    """The member of a file kept by content: ``folder<sha256>/<its base name>`` (the name
    only helps a reader; the digest is the identity). A base name that is not a safe member
    name is replaced by ``file``."""
    base = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    if not base or base in {".", ".."} or any(ord(c) < 32 or c == "\x7f" for c in base):
        base = "file"
    return f"{folder}{digest}/{base[:200]}"
