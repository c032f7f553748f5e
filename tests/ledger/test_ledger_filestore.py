"""The file store and the derivation rules, through the library."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ledger_project import day, iso
from test_ledger_gitstore import run_op

from compliancegate.ledger.chain import EMPTY, ChainWalk, link
from compliancegate.ledger.changes import OperationRejected, plan
from compliancegate.ledger.files import LedgerFolder
from compliancegate.ledger.filestore import FileStore
from compliancegate.ledger.lock import locked
from compliancegate.ledger.operations import Action, FindingOp, from_json, new_op_id, to_json
from compliancegate.ledger.records import Entry, RecordKind, decode, encode
from compliancegate.ledger.state import FindingStatus, StateBuilder, finding_id


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "ledger")


def statuses(store: FileStore, at: dt.datetime | None = None) -> dict[str, list[str]]:
    """CVE -> the status of each of its lives."""
    found: dict[str, list[str]] = {}
    for f in store.snapshot(at or day(100)).state.findings.values():
        found.setdefault(f.title.split()[0], []).append(f.status.value)
    return found


def test_records_have_one_canonical_form() -> None:
    data = {"text": "é\u2028", "op": "o", "finding": "f", "by": "b"}
    line = encode(1, EMPTY.hash, Entry(RecordKind.NOTED, day(0), data))
    assert line.isascii() and b"\n" not in line
    assert line.startswith(
        b'{"at":"2026-03-02T09:00:00Z","data":{"by":"b","finding":"f","op":"o",'
        b'"text":"\\u00e9\\u2028"},"kind":"finding.noted","prev":"000'
    )
    record = decode(line)
    assert record.data == data and record.at == day(0)


def test_linked_records_walk_back() -> None:
    entries = [
        Entry(RecordKind.RECOVERED, day(n), {"file": "x", "bytes": n, "sha256": "0", "after": 0})
        for n in range(3)
    ]
    linked = link(EMPTY, entries)
    walk = ChainWalk(linked.data.splitlines(keepends=True))
    assert [r.seq for r in walk] == [1, 2, 3]
    assert walk.head == linked.head and linked.head.size == len(linked.data)


def test_a_finding_lives_resolves_and_reopens_with_a_new_id(store: FileStore) -> None:
    store.commit([run_op("r0", "CVE-1", at=day(0))])
    store.commit([run_op("r1", at=day(1))])
    store.commit([run_op("r2", "CVE-1", at=day(2))])
    first, second = store.snapshot(day(3)).state.findings.values()
    assert (first.life, second.life) == (1, 2)
    assert first.id == finding_id("fp-CVE-1", 1) and second.id == finding_id("fp-CVE-1", 2)
    assert first.status is FindingStatus.RESOLVED and second.status is FindingStatus.OPEN
    assert (first.opened_run, first.resolved_run, second.opened_run) == ("r0", "r1", "r2")


def test_only_a_run_that_evaluated_the_policy_resolves(store: FileStore) -> None:
    store.commit([run_op("r0", "CVE-1")])
    not_evaluated = run_op("r1")
    from dataclasses import replace

    store.commit([replace(not_evaluated, evaluated=())])  # not_applicable or error
    assert statuses(store) == {"CVE-1": ["open"]}
    store.commit([run_op("r2")])
    assert statuses(store) == {"CVE-1": ["resolved"]}


def test_findings_opened_by_hand_are_not_resolved_by_runs(store: FileStore, tmp_path: Path) -> None:
    from compliancegate.ledger.clocks import NO_CLOCK
    from compliancegate.ledger.operations import OpenOp
    from compliancegate.model import Severity

    manual = OpenOp(
        new_op_id(),
        day(0),
        "alice",
        "manual:x",
        "Audit: no DR test",
        ("tiny:CP-4",),
        Severity.HIGH,
        NO_CLOCK,
    )
    store.commit([manual])
    store.commit([run_op("r1")])
    fid = finding_id("manual:x", 1)
    assert store.snapshot(day(1)).state.findings[fid].status is FindingStatus.OPEN
    store.commit([FindingOp(new_op_id(), day(2), "alice", Action.RESOLVE, fid, "DR tested")])
    assert store.snapshot(day(3)).state.findings[fid].status is FindingStatus.RESOLVED


def test_a_stale_operation_is_dropped_not_recorded(store: FileStore) -> None:
    store.commit([run_op("r0", "CVE-1")])
    fid = finding_id("fp-CVE-1", 1)
    store.commit([run_op("r1")])
    ack = FindingOp(new_op_id(), day(2), "bob", Action.ACK, fid)
    state = StateBuilder()
    LedgerFolder(store.folder).load(state)
    with pytest.raises(OperationRejected, match="already resolved"):
        plan(ack, state)
    outcome = store.commit([ack])
    assert outcome.dropped and outcome.stored == 0
    assert store.verify().ok


def test_operations_survive_the_pending_queue() -> None:
    op = run_op("r0", "CVE-1", "CVE-2")
    assert from_json(to_json(op)) == op
    ack = FindingOp(new_op_id(), day(2), "bob", Action.PLAN, "abc", "text", "plan.md", "00")
    assert from_json(to_json(ack)) == ack


def test_a_held_lock_keeps_records_pending_until_the_next_run(tmp_path: Path) -> None:
    folder = tmp_path / "ledger"
    store = FileStore(folder, lock_timeout=0.2)
    store.commit([run_op("r0")])
    with locked(folder / "lock"):
        outcome = store.commit([run_op("r1", "CVE-1")])
    assert outcome.pending == 1 and "held the ledger lock" in (outcome.reason or "")
    # The pending run counts for what the ledger knows right now...
    assert statuses(store) == {"CVE-1": ["open"]}
    later = store.commit([run_op("r2", "CVE-1")])
    assert (later.pending, later.synced, later.stored) == (0, 1, 2)
    runs = [r.run_id for r in store.snapshot(day(9)).state.runs]
    assert runs == ["r0", "r1", "r2"] and statuses(store) == {"CVE-1": ["open"]}
    assert store.verify().ok


WRITER = textwrap.dedent(
    """
    import os
    import sys
    # This folder and tests/ (the shared helpers), as pytest's pythonpath gives them.
    sys.path[:0] = [sys.argv[3], os.path.dirname(sys.argv[3])]
    from test_ledger_gitstore import run_op
    from compliancegate.ledger.filestore import FileStore
    from pathlib import Path

    store = FileStore(Path(sys.argv[1]))
    worker = sys.argv[2]
    for i in range(10):
        cves = [f"CVE-{worker}"] if i % 2 == 0 else []
        outcome = store.commit([run_op(f"{worker}-{i}", *cves, "CVE-SHARED")])
        assert outcome.pending == 0, outcome
    """
)


def test_concurrent_local_writers_take_turns(tmp_path: Path) -> None:
    folder = tmp_path / "ledger"
    env = dict(os.environ, COMPLIANCEGATE_NOW=iso(day(0)))
    here = str(Path(__file__).parent)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(folder), f"w{w}", here], env=env)
        for w in range(4)
    ]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0, 0]
    store = FileStore(folder)
    assert store.verify().ok
    state = store.snapshot(day(1)).state
    assert len(state.runs) == 40 == len({r.run_id for r in state.runs})
    shared = [f for f in state.findings.values() if f.title.startswith("CVE-SHARED")]
    assert len(shared) == 1 and shared[0].status is FindingStatus.OPEN
