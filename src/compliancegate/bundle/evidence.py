"""Run evidence kept on the runner, for ``bundle create``.

A bundle holds what a run judged: its inputs (config, register, policies, waivers) as it read
them, the digests of its artifacts, and its results as JSON, JUnit, SARIF and OSCAL. Only the
run itself has all of that, so every ``check`` that records into a ledger keeps it in the
state directory (outside the gated tree, like the ledger's queue)::

    <state>/runs/<run>/run.json                 what the run was, and the digests of all below
    <state>/runs/<run>/results.json|.junit.xml|.sarif|assessment-results.json
    <state>/blobs/<sha256>                      input files by content (shared between runs)

Artifacts are not copied (they can be large): ``run.json`` names each one's absolute path and
the SHA-256 of the bytes judged, and a full bundle reads the file again and refuses it when
the bytes differ.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliancegate.errors import CompliancegateError
from compliancegate.model import CheckReport

RUNS_DIR = "runs"
BLOBS_DIR = "blobs"
RUN_FILE = "run.json"
EVIDENCE_VERSION = 1

REPORTS: tuple[tuple[str, str], ...] = (
    ("json", "results.json"),
    ("junit", "results.junit.xml"),
    ("sarif", "results.sarif"),
    ("oscal", "assessment-results.json"),
)
"""(reporter, file name) of the results a run keeps; the bundle carries them as they are."""

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class EvidenceError(CompliancegateError):
    """Kept run evidence is missing, unreadable or not what ``run.json`` says."""


@dataclass(frozen=True)
class KeptInput:
    """An input file of the run, kept by content in ``blobs/``."""

    role: str
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class KeptArtifact:
    """An artifact the run read whole: where it was and the digest of the bytes judged."""

    path: str
    """As the run's reports name it."""
    location: str
    """Absolute path on the runner, for a bundle that includes the artifacts."""
    sha256: str


@dataclass(frozen=True)
class KeptReport:
    """A results file of the run (``REPORTS``)."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class RunEvidence:
    """What ``check`` kept of one run."""

    run_id: str
    started_at: str
    environment: str | None
    decision: str
    release: bool
    tool_version: str
    inputs: tuple[KeptInput, ...]
    artifacts: tuple[KeptArtifact, ...]
    reports: tuple[KeptReport, ...]
    folder: Path
    blobs: Path

    def report_path(self, name: str) -> Path:
        """The kept results file ``name``."""
        return self.folder / name

    def blob_path(self, digest: str) -> Path:
        """The kept input file with SHA-256 ``digest``."""
        return self.blobs / digest


def run_folder_name(run_id: str) -> str:
    """The folder of a run: its id when that is a safe file name, else a digest of it (a
    ``--run-id`` is free text and must never choose a path)."""
    if _SAFE_ID.fullmatch(run_id) and run_id not in {".", ".."}:
        return run_id
    return "id-" + hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _write_new(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)


def keep_run(
    report: CheckReport, root: Path, cwd: Path, rendered: Mapping[str, str] | None = None
) -> Path:
    """Keep ``report``'s evidence under the state directory ``root``; its folder.

    ``rendered`` holds reports already rendered by name (the run's ``--report`` files), so
    none is rendered twice. Written into a temporary folder and renamed, so a run's evidence
    is whole or absent. A run id kept before (a retried job) is replaced.
    """
    from compliancegate.reporters import get_reporter

    runs = root / RUNS_DIR
    blobs = root / BLOBS_DIR
    runs.mkdir(parents=True, exist_ok=True, mode=0o700)
    blobs.mkdir(parents=True, exist_ok=True, mode=0o700)
    inputs = []
    seen: set[tuple[str, str]] = set()
    for item in report.inputs:
        digest = item.sha256
        if (item.role, item.path) in seen:
            continue
        seen.add((item.role, item.path))
        blob = blobs / digest
        if not blob.exists():
            with tempfile.NamedTemporaryFile(dir=blobs, delete=False) as handle:
                handle.write(item.data)
            os.replace(handle.name, blob)
        inputs.append(
            {"role": item.role, "path": item.path, "sha256": digest, "size": len(item.data)}
        )
    base = cwd.absolute()
    artifacts = [
        {"path": path, "location": str(base / path), "sha256": digest}
        for path, digest in report.artifact_digests
    ]
    scratch = Path(tempfile.mkdtemp(dir=runs, prefix=".tmp-"))
    try:
        reports = []
        for reporter, name in REPORTS:
            text = (rendered or {}).get(reporter)
            if text is None:
                text = get_reporter(reporter).render(report)
            data = text.encode("utf-8")
            _write_new(scratch / name, data)
            reports.append(
                {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            )
        document = {
            "v": EVIDENCE_VERSION,
            "run_id": report.run_id,
            "started_at": _utc(report.started_at),
            "environment": report.environment,
            "decision": report.decision.value,
            "release": report.release,
            "tool_version": report.tool_version,
            "inputs": inputs,
            "artifacts": artifacts,
            "reports": reports,
        }
        _write_new(scratch / RUN_FILE, json.dumps(document, indent=1, sort_keys=True).encode())
        target = runs / run_folder_name(report.run_id)
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return target


def _utc(moment: dt.datetime) -> str:
    from compliancegate.ledger.records import format_time

    return format_time(moment)


def _field(document: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = document.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise EvidenceError(f"{key} is missing or has the wrong type", file=where)
    return value


def _digest(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise EvidenceError("a sha256 is not 64 lowercase hex digits", file=where)
    return value


def _rows(document: Mapping[str, Any], key: str, where: str) -> Sequence[Mapping[str, Any]]:
    rows: list[Any] = _field(document, key, list, where)
    if not all(isinstance(row, dict) for row in rows):
        raise EvidenceError(f"{key} holds something that is not an object", file=where)
    return rows


def load_run(root: Path, run_id: str) -> RunEvidence | None:
    """The evidence kept for ``run_id`` under the state directory ``root``; None when this
    machine kept none. ``EvidenceError`` when it is there but unreadable or inconsistent."""
    folder = root / RUNS_DIR / run_folder_name(run_id)
    where = str(folder / RUN_FILE)
    try:
        raw = (folder / RUN_FILE).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EvidenceError(f"cannot read: {exc.strerror or exc}", file=where) from None
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise EvidenceError(f"not valid JSON ({exc})", file=where) from None
    if not isinstance(document, dict) or document.get("v") != EVIDENCE_VERSION:
        raise EvidenceError("not run evidence this version of compliancegate keeps", file=where)
    if document.get("run_id") != run_id:
        raise EvidenceError(f"kept for run {document.get('run_id')!r}, not {run_id!r}", file=where)
    environment = document.get("environment")
    if environment is not None and not isinstance(environment, str):
        raise EvidenceError("environment has the wrong type", file=where)
    inputs = tuple(
        KeptInput(
            _field(row, "role", str, where),
            _field(row, "path", str, where),
            _digest(row.get("sha256"), where),
            _field(row, "size", int, where),
        )
        for row in _rows(document, "inputs", where)
    )
    artifacts = tuple(
        KeptArtifact(
            _field(row, "path", str, where),
            _field(row, "location", str, where),
            _digest(row.get("sha256"), where),
        )
        for row in _rows(document, "artifacts", where)
    )
    reports = tuple(
        KeptReport(
            _field(row, "name", str, where),
            _digest(row.get("sha256"), where),
            _field(row, "size", int, where),
        )
        for row in _rows(document, "reports", where)
    )
    if sorted(r.name for r in reports) != sorted(name for _, name in REPORTS):
        raise EvidenceError("does not list the results files a run keeps", file=where)
    return RunEvidence(
        run_id=run_id,
        started_at=_field(document, "started_at", str, where),
        environment=environment,
        decision=_field(document, "decision", str, where),
        release=_field(document, "release", bool, where),
        tool_version=_field(document, "tool_version", str, where),
        inputs=inputs,
        artifacts=artifacts,
        reports=reports,
        folder=folder,
        blobs=root / BLOBS_DIR,
    )
