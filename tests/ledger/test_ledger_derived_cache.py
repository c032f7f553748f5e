"""The derived-state cache (``ledger/derived.py``): a run replays only the records after the
cached head, derives exactly what a replay from the first record derives, and a cache that
is corrupt, of another ledger, or whose head is no longer a prefix of the chain is ignored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_project import Project, cli, day
from test_ledger_gitstore import run_op, store_for

from compliancegate.ledger import files
from compliancegate.ledger.chain import EMPTY, link
from compliancegate.ledger.changes import build_batch
from compliancegate.ledger.clocks import NO_CLOCK, Clock
from compliancegate.ledger.derived import CACHE_DIR, INDEX_FILE, MAX_SEGMENTS, DerivedCache
from compliancegate.ledger.files import Head, LedgerFolder, encode_head
from compliancegate.ledger.filestore import FileStore
from compliancegate.ledger.operations import (
    Action,
    FindingOp,
    ObservedViolation,
    OpenOp,
    Operation,
    RunOp,
    new_op_id,
)
from compliancegate.ledger.records import Entry, RecordKind
from compliancegate.ledger.state import LedgerState, StateBuilder
from compliancegate.model import Severity

NOW = day(400)
BREAK_FIX = Clock("break-fix", ("break-fix",), Severity.HIGH, None, None, None, True)
DATED = Clock("regulatory-change", ("regulatory-change",), Severity.HIGH, day(3))


def replayed(folder: Path) -> StateBuilder:
    """The state replayed from the first record, as ``ledger verify`` derives it."""
    builder = StateBuilder()
    LedgerFolder(folder).load(builder)
    return builder


def same(a: LedgerState, b: LedgerState) -> None:
    assert (a.records, a.head, a.now) == (b.records, b.head, b.now)
    assert list(a.findings.items()) == list(b.findings.items())
    assert a.runs == b.runs


def derived_dir(state: Path) -> Path:
    """The cache folder under a state directory (or a ledger's own state folder)."""
    if (state / CACHE_DIR).exists():
        return state / CACHE_DIR
    (folder,) = state.glob(f"ledgers/*/{CACHE_DIR}")
    return folder


def replay_starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The record each replay of this test starts from (``files.replay``, which both stores
    call), in order: a spy that still replays."""
    import compliancegate.ledger.gitstore as gitstore

    starts: list[int] = []
    real = files.replay

    def spy(*args: Any, **kwargs: Any) -> None:
        starts.append((args[4] if len(args) > 4 else kwargs.get("start", EMPTY)).seq)
        real(*args, **kwargs)

    monkeypatch.setattr(files, "replay", spy)
    monkeypatch.setattr(gitstore, "replay", spy)
    return starts


def file_store(tmp: Path) -> FileStore:
    return FileStore(tmp / "ledger", state=tmp / "state", cwd=tmp)


# --------------------------------------------------------------------------- equivalence


def violation(cve: str, *, waived: bool, clock: Clock) -> ObservedViolation:
    return ObservedViolation(
        f"fp-{cve}",
        "no-critical-vulns",
        ("tiny:VULN-1",),
        Severity.CRITICAL,
        f"{cve} in pkg",
        "vulnerabilities",
        "scan.json",
        3,
        "w-1" if waived else None,
        dt.date(2027, 1, 1) if waived else None,
        clock,
    )


CVES = ("CVE-1", "CVE-2", "CVE-3", "CVE-4", "CVE-5")
step = st.one_of(
    st.tuples(
        st.just("run"),
        st.frozensets(st.sampled_from(CVES)),
        st.frozensets(st.sampled_from(CVES)),
        st.booleans(),
    ),
    st.tuples(st.sampled_from(["ack", "note", "plan"]), st.integers(0, 30)),
    st.tuples(st.just("open"), st.integers(0, 3)),
    st.tuples(st.just("resolve"), st.integers(0, 30)),
)


def operation(store: FileStore, n: int, spec: tuple[Any, ...]) -> Operation | None:
    at = day(n)
    if spec[0] == "run":
        _, failing, waived, production = spec
        clocks = {"CVE-1": BREAK_FIX, "CVE-2": DATED}
        violations = tuple(
            violation(c, waived=c in waived, clock=clocks.get(c, NO_CLOCK)) for c in sorted(failing)
        )
        return RunOp(
            new_op_id(), at, f"run-{n}", "production" if production else "staging",
            None, None, None, "blocked", "low", "t", 1, ("no-critical-vulns",), violations,
            production=production,
        )  # fmt: skip
    if spec[0] == "open":
        return OpenOp(
            new_op_id(), at, "auditor", f"manual:{spec[1]}", "found by hand",
            ("tiny:AUDIT-1",), Severity.HIGH, DATED,
        )  # fmt: skip
    findings = list(store.snapshot(at).state.findings.values())
    if not findings:
        return None
    chosen = findings[spec[1] % len(findings)]
    action = {"ack": Action.ACK, "note": Action.NOTE, "plan": Action.PLAN}.get(spec[0])
    if action is None:
        return FindingOp(new_op_id(), at, "bob", Action.RESOLVE, chosen.id, "fixed by hand")
    return FindingOp(new_op_id(), at, "bob", action, chosen.id, "text", "plan.md", "ab" * 32)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, min_size=1, max_size=14), batch=st.integers(1, 3))
def test_a_cache_hit_derives_exactly_what_a_replay_from_genesis_derives(
    steps: list[tuple[Any, ...]], batch: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pending: list[Operation] = []
        for n, spec in enumerate(steps):
            op = operation(file_store(tmp), n, spec)
            if op is not None:
                pending.append(op)
            if len(pending) < batch and n < len(steps) - 1:
                continue
            file_store(tmp).commit(pending)
            pending = []
            folder = tmp / "ledger"
            if not (folder / "head.json").exists():
                continue
            full = replayed(folder)
            # A fresh store (a new process) reads the cache the last commit left.
            store = file_store(tmp)
            cache = store._derived
            live = store.snapshot(NOW, live_only=True).state
            assert cache.why is None
            same(store.snapshot(NOW).state, full.freeze(NOW))
            expected = full.freeze(NOW)
            assert list(live.findings.values()) == [f for f in expected.findings.values() if f.live]
            assert live.runs == () and live.records == expected.records
            # The cold part read back, then a new run on top: still the replay's result.
            thawed = file_store(tmp)
            thawed.snapshot(NOW)
            thawed.commit([run_op(f"extra-{n}", "CVE-9", at=day(n))])
            same(file_store(tmp).snapshot(NOW).state, replayed(folder).freeze(NOW))


def test_segments_are_merged_past_the_limit_and_still_derive_the_same(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    for n in range(MAX_SEGMENTS + 5):
        # Each run resolves the last one's finding and opens another: one cold row each.
        file_store(tmp_path).commit([run_op(f"r{n}", f"CVE-{n}", at=day(n))])
    segments = list(derived_dir(tmp_path / "state").glob("cold-*.json"))
    header = json.loads((derived_dir(tmp_path / "state") / INDEX_FILE).read_bytes().split(b"\n")[0])
    assert 1 <= len(header["segments"]) <= MAX_SEGMENTS
    assert len(segments) >= len(header["segments"])
    same(store.snapshot(NOW).state, replayed(tmp_path / "ledger").freeze(NOW))
    same(file_store(tmp_path).snapshot(NOW).state, replayed(tmp_path / "ledger").freeze(NOW))


# --------------------------------------------------------------------------- replays counted


def test_only_the_records_after_the_cached_head_are_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_store(tmp_path).commit([run_op("r0", "CVE-1", "CVE-2", at=day(0))])
    head = json.loads((tmp_path / "ledger" / "head.json").read_bytes())
    starts = replay_starts(monkeypatch)
    # The cache is refreshed by the run that appended: the next run replays nothing.
    file_store(tmp_path).snapshot(NOW)
    assert starts == [head["seq"]]
    # Records appended by a writer that keeps no cache are the only ones replayed.
    other = FileStore(tmp_path / "ledger", state=tmp_path / "other", cwd=tmp_path)
    other.commit([run_op("r1", "CVE-2", at=day(1))])
    starts.clear()
    store = file_store(tmp_path)
    store.snapshot(NOW)
    assert starts == [head["seq"]]
    starts.clear()
    store.commit([run_op("r2", at=day(2))])  # the same process: no second replay
    assert starts == []
    after = json.loads((tmp_path / "ledger" / "head.json").read_bytes())
    file_store(tmp_path).snapshot(NOW)
    assert starts == [after["seq"]]


@pytest.mark.parametrize("store_kind", ["file", "git"])
def test_a_production_check_derives_once_from_the_cache(
    project: Project, remote: Path, monkeypatch: pytest.MonkeyPatch, store_kind: str
) -> None:
    args = ["--ledger", f"git:{remote}#ledger"] if store_kind == "git" else []
    project.deploy(pinned=False)
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging", *args], now=day(0)).code == 1
    starts = replay_starts(monkeypatch)
    for n in (1, 2, 3):
        starts.clear()
        outcome = cli(["check", "--env", "production", "--format", "json", *args], now=day(n))
        assert outcome.code == 1
        assert not [x for x in outcome.json()["notices"] if x["code"].startswith("ledger")]
        # One replay a run, of the records after the head the run before left: none.
        assert len(starts) == 1 and starts[0] > 0, starts
    assert cli(["ledger", "verify", *args]).code == 0


@pytest.mark.parametrize("environment", ["staging", "production"])
@pytest.mark.parametrize("store_kind", ["file", "git"])
def test_a_fresh_runner_exports_the_state_once(
    project: Project,
    remote: Path,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
    store_kind: str,
    environment: str,
) -> None:
    # A hosted runner starts without a cache: it replays the whole ledger and caches the
    # state, which costs about as much again for a long ledger. Once a run, after its
    # commit; not also after the production read, nor after the commit's own replay.
    args = ["--ledger", f"git:{remote}#ledger"] if store_kind == "git" else []
    project.deploy(pinned=False)
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging", *args], now=day(0)).code == 1
    for folder in state.glob(f"ledgers/*/{CACHE_DIR}"):
        shutil.rmtree(folder)
    exports: list[int] = []
    real = StateBuilder.export

    def spy(self: StateBuilder, *a: Any, **k: Any) -> Any:
        exports.append(self.records)
        return real(self, *a, **k)

    monkeypatch.setattr(StateBuilder, "export", spy)
    project.scan("CVE-2")
    outcome = cli(["check", "--env", environment, "--format", "json", *args], now=day(1))
    assert outcome.code == 1
    assert not [x for x in outcome.json()["notices"] if x["code"].startswith("ledger")]
    assert len(exports) == 1, exports
    # What it cached is used: the next run replays only what came after.
    starts = replay_starts(monkeypatch)
    assert cli(["check", "--env", environment, *args], now=day(2)).code == 1
    assert starts and all(start > 0 for start in starts), starts


def test_ledger_verify_replays_from_genesis_whatever_the_cache(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.scan("CVE-1")
    for n in range(3):
        cli(["check", "--env", "staging"], now=day(n))
    starts = replay_starts(monkeypatch)
    assert cli(["ledger", "verify"]).code == 0
    assert starts == [0]


# --------------------------------------------------------------------------- ignored caches


def cached_ledger(tmp: Path, runs: int = 4) -> FileStore:
    for n in range(runs):
        # Findings open, stay open, and are resolved: every part of the state is used.
        file_store(tmp).commit([run_op(f"r{n}", *CVES[n % 4 : n % 4 + 2], at=day(n))])
    store = file_store(tmp)
    store.snapshot(NOW)
    assert store._derived.why is None
    return store


def assert_ignored(tmp: Path, why: str | None = None) -> None:
    """A fresh store does not use the cache, and derives what a full replay derives."""
    store = file_store(tmp)
    state = store.snapshot(NOW).state
    if why is not None:
        assert store._derived.why is not None and why in store._derived.why, store._derived.why
    same(state, replayed(tmp / "ledger").freeze(NOW))


def rewrite(folder: Path, keep: int, extra: list[Entry]) -> None:
    """Keep the first ``keep`` records and chain ``extra`` after them, head and all: a
    ledger that verifies, but is not the one the cache was derived from."""
    lines = (folder / "records.jsonl").read_bytes().splitlines(keepends=True)[:keep]
    builder = StateBuilder()
    data = b"".join(lines)
    files.replay(iter(lines), Head(_head_of(data)), builder, "x")
    linked = link(_head_of(data), extra)
    (folder / "records.jsonl").write_bytes(data + linked.data)
    (folder / "head.json").write_bytes(encode_head(Head(linked.head)))


def _head_of(data: bytes) -> Any:
    from compliancegate.ledger.chain import ChainWalk

    walk = ChainWalk(data.splitlines(keepends=True))
    for _ in walk:
        pass
    return walk.head


def run_entry(op: str, at: dt.datetime) -> Entry:
    data = {
        "op": op, "run_id": op, "environment": None, "commit": None, "branch": None,
        "pipeline": None, "decision": "compliant", "fail_on": "low", "tool_version": "t",
        "policies": 0, "evaluated": 0, "violations": 0,
        "changes": {"opened": 0, "resolved": 0, "waived": 0, "unwaived": 0, "breached": 0},
    }  # fmt: skip
    return Entry(RecordKind.RUN, at, data)


@pytest.mark.parametrize("keep", [0, 1, 3, 5])
def test_a_cache_whose_head_was_rewritten_is_ignored(tmp_path: Path, keep: int) -> None:
    cached_ledger(tmp_path)
    folder = tmp_path / "ledger"
    count = len((folder / "records.jsonl").read_bytes().splitlines())
    # As many records as before, or more: only the bytes tell the ledgers apart.
    extra = [run_entry(f"forged-{n}", day(9)) for n in range(count - keep + 2)]
    rewrite(folder, keep, extra)
    assert_ignored(tmp_path, "")


def test_a_cache_of_a_truncated_ledger_is_ignored(tmp_path: Path) -> None:
    cached_ledger(tmp_path)
    folder = tmp_path / "ledger"
    rewrite(folder, 3, [])
    assert_ignored(tmp_path, "past the ledger's end")


def test_a_cache_whose_head_record_changed_is_ignored(tmp_path: Path) -> None:
    cached_ledger(tmp_path)
    folder = tmp_path / "ledger"
    lines = (folder / "records.jsonl").read_bytes().splitlines(keepends=True)
    # The very last record, edited to the same length, with a head that names it: nothing
    # but a signed head tells this ledger from the one the cache was derived from.
    edited = lines[-1].replace(b'"r3"', b'"r8"', 1)
    assert edited != lines[-1]
    (folder / "records.jsonl").write_bytes(b"".join(lines[:-1]) + edited)
    head = json.loads((folder / "head.json").read_bytes())
    head["hash"] = hashlib.sha256(edited.rstrip(b"\n")).hexdigest()
    (folder / "head.json").write_bytes(json.dumps(head).encode())
    assert_ignored(tmp_path, "not the ledger's")


def test_an_edit_inside_the_cached_prefix_still_fails_the_run(project: Project) -> None:
    """A record edited in place (same length, chain not recomputed) below the cached head
    is found by the prefix digests: the production run fails closed, as without a cache."""
    from test_ledger_breakfix_rule import assert_fails_closed, open_a_break_fix_finding, production

    open_a_break_fix_finding(project)
    for n in range(3):
        assert cli(["check", "--env", "staging"], now=day(n)).code in (0, 1)
    records = project.root / ".compliancegate/ledger/records.jsonl"
    data = records.read_bytes()
    first = data.index(b"nginx:latest")
    assert first < len(data) // 2
    records.write_bytes(data[:first] + b"nginx:stable" + data[first + len("nginx:latest") :])
    assert_fails_closed(production(now=day(5)), project)


def test_a_cache_from_another_ledger_is_ignored(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    cached_ledger(a)
    cached_ledger(b, runs=2)
    # The other ledger's cache, with its key: signed, but for another ledger.
    shutil.rmtree(b / "state")
    shutil.copytree(a / "state", b / "state")
    assert_ignored(b)
    # With this ledger's own key, but the other's cache: not signed by this key.
    shutil.rmtree(b / "state")
    cached_ledger(b, runs=2)
    own = derived_dir(b / "state")
    shutil.rmtree(own)
    shutil.copytree(derived_dir(a / "state"), own)
    assert_ignored(b, "queue key")


DAMAGE = {
    "empty": lambda data: b"",
    "garbage": lambda data: b"\x00\xff not a cache",
    "truncated": lambda data: data[: len(data) // 2],
    "header only": lambda data: data.split(b"\n")[0] + b"\n",
    "flipped in the hot part": lambda data: data[:-5] + bytes([data[-5] ^ 1]) + data[-4:],
    "flipped in the header": lambda data: data[:20] + bytes([data[20] ^ 1]) + data[21:],
    "deep nesting": lambda data: b"[" * 100_000 + b"\n",
    "not an object": lambda data: b"[1, 2]\n{}",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_corrupt_cache_is_ignored(tmp_path: Path, damage: str) -> None:
    cached_ledger(tmp_path)
    index = derived_dir(tmp_path / "state") / INDEX_FILE
    index.write_bytes(DAMAGE[damage](index.read_bytes()))
    assert_ignored(tmp_path)
    # ... and rebuilt by the run that ignored it.
    assert_ignored(tmp_path)
    store = file_store(tmp_path)
    store.snapshot(NOW)
    assert store._derived.why is None


@pytest.mark.parametrize("damage", ["missing", "flipped", "garbage"])
def test_a_corrupt_cold_segment_makes_the_run_replay_from_genesis(
    tmp_path: Path, damage: str
) -> None:
    cached_ledger(tmp_path, runs=6)
    (segment, *_) = sorted(derived_dir(tmp_path / "state").glob("cold-*.json"))
    if damage == "missing":
        segment.unlink()
    elif damage == "flipped":
        data = segment.read_bytes()
        segment.write_bytes(data[:10] + bytes([data[10] ^ 1]) + data[11:])
    else:
        segment.write_bytes(b"{]")
    # The hot part still serves a production release...
    store = file_store(tmp_path)
    live = store.snapshot(NOW, live_only=True).state
    full = replayed(tmp_path / "ledger").freeze(NOW)
    assert list(live.findings.values()) == [f for f in full.findings.values() if f.live]
    # ... and whatever needs the cold part replays everything instead.
    same(store.snapshot(NOW).state, full)
    same(file_store(tmp_path).snapshot(NOW).state, full)
    # A note on a resolved finding reads the cold part while planning: the same.
    resolved = next(f for f in full.findings.values() if not f.live)
    note = FindingOp(new_op_id(), day(30), "bob", Action.NOTE, resolved.id, "late note")
    cached_ledger(tmp_path, runs=0)
    for path in derived_dir(tmp_path / "state").glob("cold-*.json"):
        path.write_bytes(b"[]")
    outcome = file_store(tmp_path).commit([note])
    assert outcome.records == 1 and not outcome.dropped
    same(file_store(tmp_path).snapshot(NOW).state, replayed(tmp_path / "ledger").freeze(NOW))


def test_a_cache_without_the_queue_key_is_ignored(tmp_path: Path) -> None:
    cached_ledger(tmp_path)
    (tmp_path / "state" / "queue.key").unlink()
    assert_ignored(tmp_path, "queue key")


def test_a_cache_of_another_format_version_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_ledger(tmp_path)
    import compliancegate.ledger.derived as derived

    monkeypatch.setattr(derived, "FORMAT", derived.FORMAT + 1)
    assert_ignored(tmp_path, "version")


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    cached_ledger(tmp_path)
    folder = derived_dir(tmp_path / "state")
    shutil.rmtree(folder)
    folder.write_text("a file where the cache folder goes")
    outcome = file_store(tmp_path).commit([run_op("r9", "CVE-1", at=day(9))])
    assert outcome.records and outcome.pending == 0
    assert_ignored(tmp_path, "unreadable")


def test_a_cache_never_changes_a_check(project: Project, state: Path) -> None:
    """The same production check on the same ledger, with the cache and without it: the
    same reports, byte for byte."""
    project.deploy(pinned=False)
    project.scan("CVE-1", "CVE-2")
    for n, scan in enumerate([("CVE-1", "CVE-2"), ("CVE-2",), ("CVE-2", "CVE-3")]):
        project.scan(*scan)
        assert cli(["check", "--env", "staging"], now=day(n)).code in (0, 1)
    ledger = project.root / ".compliancegate" / "ledger"
    saved = project.root.parent / "saved"
    shutil.copytree(ledger, saved)
    reports = []
    for use_cache in (True, False):
        shutil.rmtree(ledger)
        shutil.copytree(saved, ledger)
        if not use_cache:
            shutil.rmtree(derived_dir(state))
        args = ["check", "--env", "production", "--run-id", "same", "--format", "json"]
        outcome = cli([*args, "--report", "text=out/report.txt"], now=day(9))
        assert outcome.code == 1
        text = (project.root / "out/report.txt").read_text()
        listed = cli(["findings", "list", "--format", "json"], now=day(10)).stdout
        reports.append((outcome.stdout, text, listed))
    assert reports[0] == reports[1]


def test_the_cache_is_refreshed_after_each_run(project: Project, state: Path) -> None:
    project.scan("CVE-1")
    for n in range(3):
        cli(["check", "--env", "staging"], now=day(n))
        header = json.loads((derived_dir(state) / INDEX_FILE).read_bytes().split(b"\n")[0])
        head = json.loads((project.root / ".compliancegate/ledger/head.json").read_bytes())
        assert header["head"] == {k: head[k] for k in ("seq", "hash", "size")}


# --------------------------------------------------------------------------- git store


def test_the_git_store_replays_only_new_commits_and_walks_them(
    tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = store_for(remote, tmp_path / "a"), store_for(remote, tmp_path / "b")
    a.commit([run_op("g0", "CVE-1", at=day(0))])
    b.commit([run_op("g1", "CVE-2", at=day(1))])
    b.commit([run_op("g2", "CVE-2", "CVE-3", at=day(2))])
    walked: list[str] = []
    import compliancegate.ledger.gitstore as gitstore

    real_walk = gitstore.GitStore._appended
    starts = replay_starts(monkeypatch)

    def walk(self: Any, base: Any, tip: str, *rest: Any) -> None:
        walked.append(tip)
        real_walk(self, base, tip, *rest)

    monkeypatch.setattr(gitstore.GitStore, "_appended", walk)
    fresh = store_for(remote, tmp_path / "a")
    state = fresh.snapshot(NOW).state
    assert starts == [2] and len(walked) == 1  # a's cache: after its own push, record 2
    same(state, store_for(remote, tmp_path / "c").snapshot(NOW).state)
    assert starts[1:] == [0]  # a runner without a cache replays everything


def test_a_git_cache_whose_commit_is_not_an_ancestor_is_not_used(
    tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = store_for(remote, tmp_path / "a")
    a.commit([run_op("g0", "CVE-1", at=day(0))])
    a.commit([run_op("g1", "CVE-2", at=day(1))])
    # The branch is moved to a new commit with the same files (history rewritten, records
    # not): the cached commit is no longer an ancestor, so the whole tip is replayed.
    from ledger_project import git

    tip = git("--git-dir", str(remote), "rev-parse", "ledger").strip()
    tree = git("--git-dir", str(remote), "rev-parse", f"{tip}^{{tree}}").strip()
    orphan = git("--git-dir", str(remote), "commit-tree", tree, "-m", "rewritten").strip()
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", orphan)
    starts = replay_starts(monkeypatch)
    store = store_for(remote, tmp_path / "a")
    store.snapshot(NOW)
    assert starts == [0], starts  # refused by the walk before any record was replayed
    assert store.verify().ok


def test_cache_helpers_never_raise_on_a_missing_folder(tmp_path: Path) -> None:
    cache = DerivedCache(tmp_path / "nowhere", "file:x", lambda create: b"k" * 32)
    assert cache.resume(lambda o, n: b"", EMPTY) is None
    builder = StateBuilder()
    build_batch(builder, EMPTY, (), [run_op("r", "CVE-1", at=day(0))])
    assert cache.save(builder, EMPTY, lambda o, n: b"") == ()


def test_the_blocks_are_hashed_again_only_when_the_records_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compliancegate.ledger.derived as derived

    cached_ledger(tmp_path)
    hashed: list[int] = []
    real = derived.prefix_blocks

    def spy(read: Any, size: int, known: Any = ()) -> Any:
        hashed.append(size)
        return real(read, size, known)

    monkeypatch.setattr(derived, "prefix_blocks", spy)
    file_store(tmp_path).snapshot(NOW)
    assert hashed == []  # untouched since the cache was saved: not read again
    # Another writer's append moves the file's times: the prefix is hashed, and holds.
    size = (tmp_path / "ledger" / "records.jsonl").stat().st_size
    FileStore(tmp_path / "ledger", state=tmp_path / "other", cwd=tmp_path).commit(
        [run_op("x", "CVE-1", at=day(8))]
    )
    hashed.clear()
    store = file_store(tmp_path)
    store.snapshot(NOW)
    assert hashed[0] == size and store._derived.why is None


def test_a_huge_cache_file_is_not_read(tmp_path: Path) -> None:
    cached_ledger(tmp_path, runs=6)
    folder = derived_dir(tmp_path / "state")
    (segment, *_) = sorted(folder.glob("cold-*.json"))
    os.truncate(segment, 8 * 2**30)  # sparse: 8 GiB that would not fit in memory
    store = file_store(tmp_path)
    same(store.snapshot(NOW).state, replayed(tmp_path / "ledger").freeze(NOW))
    index = folder / INDEX_FILE
    os.truncate(index, 8 * 2**30)
    assert_ignored(tmp_path, "far larger")
