"""One replay per head: a production ``check`` and ``findings ack/plan/note`` read the ledger
(snapshot) and then write to it (commit); the second reuses the first's replay when the
ledger did not change in between, and replays again when it did."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from ledger_project import Project, cli, day
from test_ledger_gitstore import run_op, store_for

from compliancegate.ledger import files
from compliancegate.ledger.chain import ChainHead
from compliancegate.ledger.changes import build_batch
from compliancegate.ledger.filestore import FileStore
from compliancegate.ledger.operations import Action, FindingOp, new_op_id
from compliancegate.ledger.state import StateBuilder


def frozen(builder: StateBuilder) -> object:
    state = builder.freeze(day(50))
    return (state.findings, state.runs, builder.records, builder.head)


def test_a_copied_builder_is_the_replay_and_independent_of_it(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "ledger")
    store.commit([run_op("r0", "CVE-1", "CVE-2", at=day(0))])
    fid = next(iter(store.snapshot(day(1)).state.findings))
    store.commit([FindingOp(new_op_id(), day(1), "bob", Action.ACK, fid, "seen")])
    store.commit([run_op("r1", "CVE-2", at=day(2))])
    original = StateBuilder()
    files.LedgerFolder(store.folder).load(original)
    copy = original.copy()
    assert frozen(copy) == frozen(original)
    # Every attribute is carried over: a field added to the builder must be copied too.
    assert set(vars(copy)) == set(vars(original))
    for name, value in vars(original).items():
        assert plain(getattr(copy, name)) == plain(value), name
    before = frozen(original)
    store.commit([run_op("r2", "CVE-1", at=day(3))])
    replayed = StateBuilder()
    files.LedgerFolder(store.folder).load(replayed)
    # Advancing the copy past new records leaves the original as it was.
    build_batch(copy, ChainHead(copy.records, copy.head, 0), (), [run_op("r9", at=day(4))])
    assert frozen(original) == before
    assert frozen(replayed) != before


def plain(value: object) -> object:
    """``value`` with every finding life spelled out slot by slot (lives have no ``==``)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    slots = getattr(type(value), "__slots__", None)
    if slots:
        return {slot: getattr(value, slot) for slot in slots}
    return value


def count_replays(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = files.replay

    def counting(*args: object, **kwargs: object) -> None:
        calls.append(str(args[3]))
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "replay", counting)
    import compliancegate.ledger.gitstore as gitstore

    monkeypatch.setattr(gitstore, "replay", counting)
    return calls


@pytest.mark.parametrize("store_kind", ["file", "git"])
def test_a_production_check_replays_the_ledger_once(
    project: Project, remote: Path, monkeypatch: pytest.MonkeyPatch, store_kind: str
) -> None:
    args = ["--ledger", f"git:{remote}#ledger"] if store_kind == "git" else []
    project.deploy(pinned=False)
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging", *args], now=day(0)).code == 1
    calls = count_replays(monkeypatch)
    outcome = cli(["check", "--env", "production", "--format", "json", *args], now=day(1))
    assert outcome.code == 1
    assert not [n for n in outcome.json()["notices"] if n["code"].startswith("ledger")]
    assert len(calls) == 1, calls
    calls.clear()
    listed = cli(["findings", "list", "--format", "json", *args], now=day(2))
    fid = listed.json()["findings"][0]["id"]
    calls.clear()
    assert cli(["findings", "ack", fid, *args], now=day(2)).code == 0
    assert len(calls) == 1, calls
    timeline = cli(["findings", "show", fid, "--format", "json", *args], now=day(3)).json()
    assert [e["event"] for e in timeline["timeline"]][-1] == "acked"


def test_a_ledger_that_moved_on_between_snapshot_and_commit_is_replayed_again(
    tmp_path: Path, remote: Path
) -> None:
    # File store: another writer appends in between; the commit must see its records.
    mine, other = FileStore(tmp_path / "l"), FileStore(tmp_path / "l")
    mine.commit([run_op("r0", "CVE-1", at=day(0))])
    assert len(mine.snapshot(day(1)).state.findings) == 1
    other.commit([run_op("r1", at=day(1))])  # resolves CVE-1
    mine.commit([run_op("r2", "CVE-1", at=day(2))])  # a new life, not "already open"
    lives = sorted(f.life for f in mine.snapshot(day(3)).state.findings.values())
    assert lives == [1, 2] and mine.verify().ok
    # Git store: another runner pushes in between.
    a, b = store_for(remote, tmp_path / "a"), store_for(remote, tmp_path / "b")
    a.commit([run_op("g0", "CVE-1", at=day(0))])
    assert len(a.snapshot(day(1)).state.findings) == 1
    b.commit([run_op("g1", at=day(1))])
    a.commit([run_op("g2", "CVE-1", at=day(2))])
    lives = sorted(f.life for f in a.snapshot(day(3)).state.findings.values())
    assert lives == [1, 2] and a.verify().ok


def test_a_cached_replay_is_not_shared_with_the_frozen_snapshot(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "l")
    store.commit([run_op("r0", "CVE-1", at=day(0))])
    first = store.snapshot(day(1)).state
    store.commit([run_op("r1", at=day(1))])
    second = store.snapshot(day(2)).state
    (before,) = first.findings.values()
    (after,) = second.findings.values()
    assert dataclasses.replace(before).status.value == "open"
    assert after.status.value == "resolved"
