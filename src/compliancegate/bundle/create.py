"""``bundle create``: the evidence of one run or a period, in one signed, reproducible file.

The ledger is the backbone: a bundle's scope is a run of its records, carried with the chain
segment that links them and the signed head that vouches for them. Around it come the runs'
kept evidence (``bundle.evidence``), the findings' timelines and the two OSCAL documents, all
derived from those records, so the same ledger and the same kept evidence give the same
bytes whenever and wherever the bundle is made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliancegate.bundle import layout
from compliancegate.bundle.evidence import RunEvidence, load_run, run_folder_name
from compliancegate.errors import CompliancegateError, UsageError
from compliancegate.ledger.chain import ChainWalk
from compliancegate.ledger.interface import LedgerContents, LedgerStore
from compliancegate.ledger.records import Record, RecordKind, format_time
from compliancegate.ledger.signed import SignedHead, parse_heads
from compliancegate.ledger.state import LedgerState, StateBuilder
from compliancegate.model import Register
from compliancegate.signing.keys import SigningKey


class BundleError(CompliancegateError):
    """A bundle cannot be made: nothing in scope, a ledger that does not verify, evidence
    that changed since the run judged it."""


@dataclass(frozen=True)
class Scope:
    """What a bundle covers: one run, or every record from ``since`` to ``until``."""

    run: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def describe(self) -> dict[str, str]:
        """The scope as the manifest writes it."""
        if self.run is not None:
            return {"run": self.run}
        since = format_time(self.since) if self.since else None
        until = format_time(self.until) if self.until else None
        return {k: v for k, v in (("since", since), ("until", until)) if v is not None}


@dataclass(frozen=True)
class Created:
    """What ``create_bundle`` wrote."""

    path: Path
    sha256: str
    size: int
    members: int
    runs: tuple[str, ...]
    """The runs in scope, in ledger order."""
    without_evidence: tuple[str, ...]
    """Runs in scope whose evidence this machine did not keep (ledger records only)."""
    first: int
    last: int
    key_id: str
    artifacts_unavailable: int = 0
    """Artifacts of earlier runs of a period no longer as judged: carried by digest only."""


@dataclass(frozen=True)
class _Segment:
    first: int
    """The first record of the scope."""
    end: int
    """The last record of the scope."""
    last: int
    """The last record carried: ``end``, or the signed head that covers it."""
    records: tuple[Record, ...]
    """Every record of the ledger, in order."""
    lines: tuple[bytes, ...]
    """Each record's line, newline included."""
    heads: tuple[SignedHead, ...]


def _read_ledger(contents: LedgerContents, location: str) -> tuple[list[Record], list[bytes]]:
    lines = contents.records.splitlines(keepends=True)
    walk = ChainWalk(lines, f"{location}: records")
    records = list(walk)
    if walk.tail:
        raise BundleError("the ledger's records end in a torn line", subject=location)
    return records, lines


def _last_run(records: Sequence[Record], location: str) -> str:
    runs = [r for r in records if r.kind is RecordKind.RUN]
    if not runs:
        raise BundleError("the ledger records no run yet", subject=location)
    return str(runs[-1].data["run_id"])


def _in_scope(record: Record, scope: Scope) -> bool:
    if scope.run is not None:
        return record.data.get("run_id") == scope.run
    return (scope.since is None or record.at >= scope.since) and (
        scope.until is None or record.at <= scope.until
    )


def _segment(
    contents: LedgerContents,
    records: list[Record],
    lines: list[bytes],
    scope: Scope,
    location: str,
) -> _Segment:
    if scope.run is not None and not any(
        r.kind is RecordKind.RUN and r.data.get("run_id") == scope.run for r in records
    ):
        raise BundleError(
            f"run {scope.run!r} is not in the ledger {location}",
            hint="`compliancegate findings list` and the JSON report name recorded runs; a "
            "run with --no-ledger has nothing to prove it",
        )
    chosen = [r.seq for r in records if _in_scope(r, scope)]
    if not chosen:
        raise BundleError(
            f"no ledger record falls in the period {scope.describe()}",
            subject=location,
            hint="check --since/--until (UTC; a date alone for --until means the whole day)",
        )
    first, end = chosen[0], chosen[-1]
    heads = parse_heads(contents.heads, f"{location}: heads") if contents.heads else []
    last = end
    covering = [h for h in heads if h.head.seq >= end]
    if covering:
        last = covering[0].head.seq
    elif heads:
        last = len(records)
    carried = tuple(h for h in heads if first <= h.head.seq <= last)
    return _Segment(first, end, last, tuple(records), tuple(lines), carried)


def _state(segment: _Segment, now: dt.datetime) -> LedgerState:
    builder = StateBuilder()
    builder.apply_all(segment.records[: segment.end])
    return builder.freeze(now)


def _timelines(state: LedgerState, segment: _Segment) -> dict[str, Any]:
    from compliancegate.ledger.views import finding_json

    touched = [
        f
        for f in state.findings.values()
        if any(segment.first <= e.seq <= segment.end for e in f.events)
    ]
    touched.sort(key=lambda f: (f.opened_at, f.id))
    return {
        "apiVersion": layout.API_VERSION,
        "kind": "FindingTimelines",
        "now": format_time(state.now),
        "findings": [finding_json(f) for f in touched],
    }


class _Members:
    """The archive's members as they are gathered, each name once."""

    def __init__(self) -> None:
        from compliancegate.bundle.archive import Member

        self._member = Member
        self.items: dict[str, Any] = {}

    def data(self, name: str, data: bytes) -> None:
        self.items[name] = self._member(name, data=data)

    def file(self, name: str, path: Path, digest: str) -> None:
        if name not in self.items:
            self.items[name] = self._member(name, path=path, sha256=digest)


class _Artifacts:
    """Which artifacts can go into the bundle as judged.

    A run's artifacts are not kept (they can be large), so a bundle reads them where the run
    read them. For one run, right after ``check``, every one must still be the bytes judged
    (``strict``): anything else is refused. Over a period, earlier runs' artifacts have
    usually been rebuilt since; those are carried by digest only and counted, never silently
    replaced by what the file holds now.
    """

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self._digests: dict[str, str | None] = {}
        self.unavailable: set[tuple[str, str]] = set()

    def available(self, location: str, digest: str) -> bool:
        if self.strict:
            return True  # the archive writer refuses the file if it is not as judged
        if location not in self._digests:
            self._digests[location] = _digest_or_none(Path(location))
        if self._digests[location] == digest:
            return True
        self.unavailable.add((location, digest))
        return False


def _digest_or_none(path: Path) -> str | None:
    try:
        return _file_digest(path)[0]
    except OSError:
        return None


def _register_of(evidence: RunEvidence) -> Register | None:
    """The register a run was evaluated against, loaded again from the bytes it read (the
    OSCAL assessment results name its controls as the reviewed ones); None without one."""
    import dataclasses
    import tempfile

    from compliancegate.bundle.evidence import EvidenceError
    from compliancegate.loading.documents import display
    from compliancegate.loading.register import load_register

    files = [item for item in evidence.inputs if item.role == "register"]
    if not files:
        return None
    with tempfile.TemporaryDirectory() as folder:
        names = {}
        for number, item in enumerate(files):
            data = evidence.blob_path(item.sha256).read_bytes()
            if _sha(data) != item.sha256:
                raise EvidenceError(
                    f"the kept copy of {item.path} changed since the run read it",
                    file=str(evidence.blob_path(item.sha256)),
                )
            # A prefix keeps two files of one name apart; the suffix keeps them YAML.
            target = Path(folder) / f"{number:04d}-{Path(item.path).name}"
            target.write_bytes(data)
            names[display(target)] = item.path
        register = load_register(sorted(Path(folder).iterdir()))
    # The files as the run named them, not the temporary copies: the bytes stay the same.
    metas = tuple(dataclasses.replace(m, file=names.get(m.file, m.file)) for m in register.files)
    return dataclasses.replace(register, files=metas, hidden=())


def _run_members(
    members: _Members, evidence: RunEvidence, artifacts: _Artifacts | None
) -> dict[str, Any]:
    """Add one run's kept evidence; its ``run.json`` as the bundle writes it."""
    folder = layout.RUNS + run_folder_name(evidence.run_id) + "/"
    for report in evidence.reports:
        members.file(folder + report.name, evidence.report_path(report.name), report.sha256)
    inputs = []
    for item in evidence.inputs:
        input_name = layout.content_name(layout.INPUTS, item.sha256, item.path)
        members.file(input_name, evidence.blob_path(item.sha256), item.sha256)
        inputs.append(
            {"role": item.role, "path": item.path, "sha256": item.sha256, "member": input_name}
        )
    judged = []
    for artifact in evidence.artifacts:
        name: str | None = None
        if artifacts is not None and artifacts.available(artifact.location, artifact.sha256):
            name = layout.content_name(layout.ARTIFACTS, artifact.sha256, artifact.path)
            members.file(name, Path(artifact.location), artifact.sha256)
        judged.append({"path": artifact.path, "sha256": artifact.sha256, "member": name})
    document = {
        "run_id": evidence.run_id,
        "started_at": evidence.started_at,
        "environment": evidence.environment,
        "decision": evidence.decision,
        "release": evidence.release,
        "tool_version": evidence.tool_version,
        "inputs": inputs,
        "artifacts": judged,
        "results": [folder + r.name for r in evidence.reports],
    }
    members.data(folder + layout.RUN_FILE, layout.pretty_json(document))
    return document


def _gather_runs(
    members: _Members, runs: Sequence[Record], state_dir: Path, judged: _Artifacts | None
) -> tuple[list[dict[str, Any]], RunEvidence | None]:
    """Each run of the scope as the manifest lists it, its kept evidence added to
    ``members`` where this machine kept it; and the last run whose evidence was kept."""
    entries = []
    last_kept = None
    for run in runs:
        run_id = str(run.data["run_id"])
        evidence = load_run(state_dir, run_id)
        if evidence is not None and evidence.started_at != format_time(run.at):
            # The id was used again (a retried job): what is kept is the later run's.
            evidence = None
        if evidence is not None and evidence.decision != run.data["decision"]:
            raise BundleError(
                f"the evidence kept for run {run_id} says {evidence.decision}, the ledger "
                f"says {run.data['decision']}: the kept evidence is not this run's",
                file=str(evidence.folder),
            )
        folder = None
        if evidence is not None:
            _run_members(members, evidence, judged)
            folder = layout.RUNS + run_folder_name(run_id) + "/"
            last_kept = evidence
        entries.append(
            {
                "run_id": run_id,
                "seq": run.seq,
                "at": format_time(run.at),
                "environment": run.data["environment"],
                "decision": run.data["decision"],
                "evidence": folder,
            }
        )
    return entries, last_kept


def create_bundle(
    store: LedgerStore,
    scope: Scope,
    output: Path,
    key: SigningKey,
    *,
    state_dir: Path,
    artifacts: bool = True,
) -> Created:
    """Make the bundle of ``scope`` from ``store`` and the evidence kept under
    ``state_dir``, signed with ``key``, at ``output``.

    ``BundleError`` when the ledger does not verify, nothing is in scope, or a kept file or
    artifact is not the one the run judged (nothing is written then).
    """
    from compliancegate.bundle.archive import ArchiveError, write_archive
    from compliancegate.bundle.dsse import Statement, Subject, sign_envelope
    from compliancegate.oscal.assessment import ledger_assessment_results
    from compliancegate.oscal.poam import poam

    if scope.run is None and scope.since and scope.until and scope.since > scope.until:
        raise UsageError("--since is after --until")
    report = store.verify()
    if report.problem is not None:
        raise BundleError(
            f"the ledger does not verify, so a bundle of it would prove nothing: {report.problem}",
            subject=store.location,
            hint="run `compliancegate ledger verify` and restore the ledger first",
        )
    contents = store.contents()
    # Parsed once: the last run, the scope and the segment all read these.
    records, lines = _read_ledger(contents, store.location)
    if scope == Scope():
        scope = Scope(run=_last_run(records, store.location))
    segment = _segment(contents, records, lines, scope, store.location)
    scoped = segment.records[segment.first - 1 : segment.end]
    runs = [r for r in scoped if r.kind is RecordKind.RUN]
    now = scope.until if scope.run is None and scope.until else scoped[-1].at
    state = _state(segment, now)
    members = _Members()
    judged = _Artifacts(strict=scope.run is not None) if artifacts else None
    manifest_runs, last_kept = _gather_runs(members, runs, state_dir, judged)
    carried = segment.lines[segment.first - 1 : segment.last]
    members.data(layout.RECORDS, b"".join(carried))
    if segment.heads:
        members.data(layout.HEADS, b"".join(h.line + b"\n" for h in segment.heads))
    members.data(layout.TIMELINES, layout.pretty_json(_timelines(state, segment)))
    if runs:
        since = scope.since if scope.run is None else runs[0].at
        until = scope.until if scope.run is None else runs[-1].at
        register = _register_of(last_kept) if last_kept is not None else None
        document = ledger_assessment_results(state, since=since, until=until, register=register)
        members.data(layout.ASSESSMENT, layout.pretty_json(document))
    members.data(layout.POAM, layout.pretty_json(poam(state, location=store.location)))
    offset = sum(len(line) for line in segment.lines[: segment.first - 1])
    last_record = segment.records[segment.last - 1]
    manifest: dict[str, Any] = {
        "apiVersion": layout.API_VERSION,
        "kind": layout.MANIFEST_KIND,
        "scope": scope.describe(),
        "artifacts": "included" if artifacts else "digests",
        "artifacts_unavailable": len(judged.unavailable) if judged else 0,
        "ledger": {
            "location": store.location,
            "first": segment.first,
            "end": segment.end,
            "last": segment.last,
            "prev": segment.records[segment.first - 1].prev,
            "offset": offset,
            "head": {"seq": last_record.seq, "hash": last_record.hash},
            "signed": bool(segment.heads),
        },
        "runs": manifest_runs,
    }
    # The manifest lists every member by digest; the digests of path members are the ones
    # the runs recorded, and the archive writer refuses a file that no longer has them.
    listed = []
    for name in sorted(members.items):
        member = members.items[name]
        digest = member.sha256 or hashlib.sha256(member.data).hexdigest()
        listed.append({"name": name, "sha256": digest})
    manifest["members"] = listed
    manifest_bytes = layout.pretty_json(manifest)
    members.data(layout.MANIFEST, manifest_bytes)
    subjects = tuple(
        Subject(row["name"], row["sha256"])
        for row in sorted(
            [*listed, {"name": layout.MANIFEST, "sha256": _sha(manifest_bytes)}],
            key=lambda row: row["name"],
        )
    )
    statement = Statement(
        subjects,
        layout.PREDICATE_TYPE,
        {
            "manifest": {"name": layout.MANIFEST, "sha256": _sha(manifest_bytes)},
            **_predicate(manifest),
        },
    )
    members.data(layout.ENVELOPE, sign_envelope(statement, key))
    try:
        write_archive(output, list(members.items.values()))
    except ArchiveError as exc:
        raise BundleError(
            exc.message,
            subject=exc.subject,
            hint="a kept file or an artifact changed after the run judged it; bundle the "
            "run where it ran, right after check, or use --digests-only",
        ) from None
    data_digest, size = _file_digest(output)
    return Created(
        path=output,
        sha256=data_digest,
        size=size,
        members=len(members.items),
        runs=tuple(str(r.data["run_id"]) for r in runs),
        without_evidence=tuple(r["run_id"] for r in manifest_runs if r["evidence"] is None),
        first=segment.first,
        last=segment.last,
        key_id=key.key_id,
        artifacts_unavailable=len(judged.unavailable) if judged else 0,
    )


def _predicate(manifest: dict[str, Any]) -> dict[str, Any]:
    ledger = manifest["ledger"]
    return {
        "scope": manifest["scope"],
        "ledger": {"location": ledger["location"], "head": ledger["head"]},
        "runs": len(manifest["runs"]),
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
