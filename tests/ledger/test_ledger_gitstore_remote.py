"""The git store's plumbing around the chain: which remote ``git:.`` means and with which
credentials, how a lost race is told from a refusal, how long it backs off, and what
``snapshot`` and ``verify`` report online, offline and with operations pending, and what
``commit`` returns and keeps queued when its push lands, loses, is refused or fails.

Written to kill mutants of ``gitstore.py`` (docs/mutation-testing.md, "Ledger: chain,
records, state, clocks, git store").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_project import day, git
from test_ledger_gitstore import remote_records, run_op, store_for

from compliancegate.ledger import gitstore
from compliancegate.ledger.chain import GENESIS
from compliancegate.ledger.clocks import system_now
from compliancegate.ledger.gitstore import GitStore, gated_remote
from compliancegate.ledger.interface import CommitOutcome, LedgerError
from compliancegate.ledger.pending import STRAY_REASON


def repo(path: Path, *config: tuple[str, str]) -> Path:
    path.mkdir(parents=True)
    git("init", "--quiet", str(path), cwd=path)
    for key, value in config:
        git("config", "--add", key, value, cwd=path)
    return path


def test_git_dot_outside_a_repository_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(LedgerError) as caught:
        gated_remote(tmp_path)
    error = caught.value
    assert error.message == (
        "git:. names the repository being gated, but this is not a git repository"
    )
    assert error.file == str(tmp_path)
    assert error.hint == "run in the repository's checkout, or use git:URL#BRANCH"


def test_git_dot_without_an_origin_is_the_checkout_itself_from_any_subfolder(
    tmp_path: Path,
) -> None:
    root = repo(tmp_path / "work")
    (root / "a" / "b").mkdir(parents=True)
    for where in (root, root / "a" / "b"):
        remote = gated_remote(where)
        assert remote.url == str(root) and remote.config == ()


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("../shared.git", "{parent}/shared.git"),
        ("shared.git", "{root}/shared.git"),
        ("/srv/ledger.git", "/srv/ledger.git"),
        ("https://example.com/o/r.git", "https://example.com/o/r.git"),
        ("git@example.com:o/r.git", "git@example.com:o/r.git"),
    ],
)
def test_git_dot_resolves_a_relative_origin_and_push_url_against_the_checkout(
    tmp_path: Path, origin: str, expected: str
) -> None:
    root = repo(
        tmp_path / "work",
        ("remote.origin.url", origin),
        ("remote.origin.pushurl", origin),
        ("remote.origin.pushurl", "/abs/push.git"),
    )
    want = expected.format(parent=tmp_path, root=root)
    remote = gated_remote(root / ".")
    assert remote.url == want
    assert remote.config == (
        ("remote.origin.pushurl", want),
        ("remote.origin.pushurl", "/abs/push.git"),
    )


def test_git_dot_carries_every_extraheader_with_and_without_a_url(tmp_path: Path) -> None:
    root = repo(
        tmp_path / "work",
        ("remote.origin.url", "https://example.com/o/r.git"),
        ("http.extraheader", "AUTHORIZATION: basic one"),
        ("http.https://example.com/.extraheader", "AUTHORIZATION: basic two"),
        ("http.https://example.com/.extraheader", "AUTHORIZATION: basic three"),
        ("http.https://other.example/.sslverify", "false"),
        ("user.extraheader", "not http"),
    )
    remote = gated_remote(root)
    assert remote.config == (
        ("http.extraheader", "AUTHORIZATION: basic one"),
        ("http.https://example.com/.extraheader", "AUTHORIZATION: basic two"),
        ("http.https://example.com/.extraheader", "AUTHORIZATION: basic three"),
    )


@pytest.mark.parametrize(
    ("line", "race"),
    [
        ("!\tabc:refs/heads/l\t[remote rejected] (incorrect old value provided)", True),
        ("!\tabc:refs/heads/l\t[remote rejected] (stale info)", True),
        ("!\tabc:refs/heads/l\t[REJECTED] (fetch first)", True),
        # The words of a race in the ref names, not in the summary, are no race.
        ("!\tabc:refs/heads/stale\t[remote rejected] (hook declined)", False),
        ("!\tincorrect old value:refs/heads/l\t[remote rejected] (hook declined)", False),
        ("!\t[rejected]:refs/heads/l\t[remote rejected] (hook declined)", False),
    ],
)
def test_lost_races_are_read_from_the_summary_only(line: str, race: bool) -> None:
    assert gitstore._lost_race(line) is race


def test_backoff_doubles_per_attempt_up_to_its_cap_and_never_past_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits: list[tuple[float, float]] = []
    sleeps: list[float] = []
    monkeypatch.setattr(gitstore.random, "uniform", lambda a, b: limits.append((a, b)) or b)
    monkeypatch.setattr(gitstore.time, "sleep", sleeps.append)
    store = store_for(tmp_path / "r.git", tmp_path / "s", backoff=0.5, max_backoff=1e12)
    far = time.monotonic() + 1e13
    for attempt in (0, 1, 3, 30, 31, 40):
        store._pause(attempt, far)
    assert limits == [(0, 0.5 * 2**n) for n in (0, 1, 3, 30, 30, 30)]
    assert sleeps == [0.5 * 2**n for n in (0, 1, 3, 30, 30, 30)]
    capped = store_for(tmp_path / "r.git", tmp_path / "s2", backoff=0.5, max_backoff=3.0)
    capped._pause(5, far)
    assert limits[-1] == (0, 3.0) and sleeps[-1] == 3.0
    # Near the deadline it sleeps only what is left, and past it not at all.
    store._pause(2, time.monotonic() + 0.5)
    assert 0.4 < sleeps[-1] <= 0.5
    store._pause(2, time.monotonic() - 100)
    assert sleeps[-1] == 0.0


def test_the_system_clock_is_aware_utc() -> None:
    now = system_now()
    assert now.tzinfo is dt.UTC
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


@pytest.fixture
def writer(remote: Path, tmp_path: Path) -> GitStore:
    store = store_for(remote, tmp_path / "writer")
    store._queue.add([run_op("r1", "CVE-1", at=day(0))])
    assert store.commit([]).stored == 1
    return store


def test_an_empty_branch_snapshot_and_verify(remote: Path, tmp_path: Path) -> None:
    store = store_for(remote, tmp_path / "s")
    snap = store.snapshot(day(1))
    assert (snap.found, snap.pending, snap.offline, snap.refused) == (False, 0, None, ())
    assert snap.location == f"git:{remote}#ledger" and snap.state.records == 0
    report = store.verify()
    assert report.ok and report.notes == ("the branch has no records yet",)
    assert (report.location, report.records, report.head) == (f"git:{remote}#ledger", 0, GENESIS)


def test_online_snapshot_and_verify_of_a_ledger(writer: GitStore, remote: Path) -> None:
    snap = writer.snapshot(day(1))
    assert (snap.found, snap.pending, snap.offline) == (True, 0, None)
    assert [f.title for f in snap.state.live()] == ["CVE-1 in pkg"]
    report = writer.verify()
    assert report.ok and report.notes == () and report.records == 2
    assert report.head == snap.state.head != GENESIS
    assert report.location == f"git:{remote}#ledger"


def test_offline_snapshot_and_verify_read_the_local_copy_and_the_queue(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    head = writer.verify().head
    remote.rename(tmp_path / "gone.git")
    writer._queue.add([run_op("r2", "CVE-1", "CVE-2", at=day(1))])
    snap = writer.snapshot(day(2))
    assert snap.offline and "cannot fetch" in snap.offline
    assert snap.found and snap.pending == 1
    # The queued run's new finding is in the snapshot, on top of the local copy.
    assert sorted(f.title for f in snap.state.live()) == ["CVE-1 in pkg", "CVE-2 in pkg"]
    report = writer.verify()
    assert report.ok and report.records == 2 and report.head == head
    assert report.notes[0].startswith("remote unreachable (cannot fetch")
    assert report.notes[0].endswith("; verified the local copy")
    assert report.notes[1] == f"1 operation(s) pending in {writer._queue.folder}"


def test_a_queue_with_only_pending_operations_is_found(remote: Path, tmp_path: Path) -> None:
    store = store_for(remote, tmp_path / "s")
    store._queue.add([run_op("r1", "CVE-1", at=day(0))])
    snap = store.snapshot(day(1))
    assert snap.found and snap.pending == 1 and snap.state.records == 2


def test_git_dot_reads_credentials_from_the_repository_config_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A runner's own ~/.gitconfig is not the gated repository's: nothing of it is carried.
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        '[http]\n\textraheader = AUTHORIZATION: basic home\n[remote "origin"]\n'
        "\tpushurl = /home/push.git\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    root = repo(tmp_path / "work", ("remote.origin.url", "https://example.com/o/r.git"))
    assert gated_remote(root).config == ()


def test_the_local_copy_is_found_when_its_ref_is_packed(writer: GitStore, remote: Path) -> None:
    loose = writer._local_commit()
    assert loose is not None
    writer._git.out("pack-refs", "--all", "--prune")
    assert not (writer._repo / writer._ref).exists()
    assert writer._local_commit() == loose
    writer._git.out("update-ref", "-d", writer._ref)
    assert writer._local_commit() is None


def test_a_runner_that_only_verified_remembers_what_it_saw(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    reader = store_for(remote, tmp_path / "reader")
    assert reader.verify().ok
    # The branch is force-pushed back to nothing but a different first run.
    other = tmp_path / "other.git"
    git("init", "--quiet", "--bare", str(other), cwd=tmp_path)
    forger = store_for(other, tmp_path / "forger")
    forger._queue.add([run_op("r9", "CVE-9", at=day(0))])
    assert forger.commit([]).stored == 1
    git("--git-dir", str(remote), "fetch", "--quiet", str(other), "+ledger:ledger")
    problem = reader.verify().problem
    assert problem is not None and "history was rewritten" in problem.message


# ------------------------------------------------------------------ commit outcomes
# What ``commit`` returns, and keeps queued, when the push lands, loses a race with no budget
# left, is refused, or cannot reach the remote, and when the cache's lock is held.


def plant_stray(store: GitStore) -> Path:
    """A queued operation inside the gated tree, where a pull request can put one."""
    stray = store._tree / ".compliancegate" / "ledger" / "pending" / "1-planted.json"
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")
    return stray


def test_a_push_also_moves_the_local_copy(writer: GitStore, remote: Path, tmp_path: Path) -> None:
    # The cache's fetch refspec makes the push move the tracking ref: a runner that goes
    # offline right after storing a run reads that run from its local copy.
    outcome = writer.commit([run_op("r2", "CVE-1", "CVE-2", at=day(1))])
    assert (outcome.stored, outcome.records, outcome.pending) == (1, 2, 0)
    pushed = git("--git-dir", str(remote), "rev-parse", "ledger").strip()
    assert writer._local_commit() == pushed
    remote.rename(tmp_path / "gone.git")
    snap = writer.snapshot(day(2))
    assert snap.offline is not None and snap.state.records == 4
    assert sorted(f.title for f in snap.state.live()) == ["CVE-1 in pkg", "CVE-2 in pkg"]


def test_a_lost_race_with_no_budget_left_keeps_the_run_pending_and_says_why(
    remote: Path, tmp_path: Path
) -> None:
    a = store_for(remote, tmp_path / "a", retry_seconds=0.0, backoff=0.0)
    b = store_for(remote, tmp_path / "b")
    fetch = a._fetch

    def fetch_then_b_pushes() -> str | None:
        commit = fetch()
        b.commit([run_op("b-1")])
        return commit

    a._fetch = fetch_then_b_pushes  # type: ignore[method-assign]
    outcome = a.commit([run_op("a-1", "CVE-1")])
    assert outcome == CommitOutcome(
        stored=0,
        records=0,
        pending=1,
        reason=(
            "the remote rejected 1 push(es) in 0s because others pushed first "
            f"(retry budget 0s, {gitstore.RETRY_VARIABLE})"
        ),
    )
    assert a._queue.count() == 1
    # The next run, with the remote quiet, stores the pending run and its own (which
    # resolves CVE-1).
    a._fetch = fetch  # type: ignore[method-assign]
    later = a.commit([run_op("a-2")])
    assert later == CommitOutcome(stored=2, records=4, pending=0, synced=1)
    assert a._queue.count() == 0


def test_a_remote_lost_between_fetch_and_push_keeps_the_run_pending(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    fetch = writer._fetch

    def fetch_then_the_remote_goes() -> str | None:
        commit = fetch()
        remote.rename(tmp_path / "gone.git")
        return commit

    writer._fetch = fetch_then_the_remote_goes  # type: ignore[method-assign]
    outcome = writer.commit([run_op("r2")])
    assert (outcome.stored, outcome.records, outcome.pending) == (0, 0, 1)
    assert outcome.reason is not None
    assert outcome.reason.startswith(f"cannot push to {writer.location}: ")
    assert "gone" not in outcome.reason or "remote.git" in outcome.reason
    assert writer._queue.count() == 1


def test_a_refused_push_names_the_store_and_git_s_reason(remote: Path, tmp_path: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    store = store_for(remote, tmp_path / "a")
    outcome = store.commit([run_op("a-1")])
    assert outcome.reason == (
        f"{store.location} refused the push: [remote rejected] (pre-receive hook declined)"
    )
    assert (outcome.stored, outcome.pending) == (0, 1)


def test_a_held_lock_keeps_the_run_pending_and_reports_the_stray_batches(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliancegate.ledger.lock import locked

    monkeypatch.setattr(gitstore, "DEFAULT_TIMEOUT", 0.1)
    store = store_for(remote, tmp_path / "a", retry_seconds=0.0)
    stray = plant_stray(store)
    store._queue.prepare()
    with locked(store.cache / "lock"):
        outcome = store.commit([run_op("a-1"), run_op("a-2")])
    assert outcome == CommitOutcome(
        stored=0,
        records=0,
        pending=2,
        reason="another process has held the ledger lock for 0s",
        refused=(f"{stray}: {STRAY_REASON}",),
    )
    # With the lock free, both are stored; the stray batch is reported, never recorded.
    later = store.commit([])
    assert (later.stored, later.records, later.pending, later.synced) == (2, 2, 0, 2)
    assert later.refused == (f"{stray}: {STRAY_REASON}",)


def test_a_branch_deleted_on_the_remote_is_gone_from_the_local_copy(
    writer: GitStore, remote: Path
) -> None:
    assert writer._local_commit() is not None
    git("--git-dir", str(remote), "update-ref", "-d", "refs/heads/ledger")
    assert writer._fetch() is None
    assert writer._local_commit() is None


def test_batches_not_this_runner_s_are_refused_by_snapshot_and_verify(
    writer: GitStore, remote: Path
) -> None:
    forged = writer._queue.folder / "00000000000000000001-forged.json"
    forged.write_text("{}")
    stray = plant_stray(writer)
    snap = writer.snapshot(day(1))
    assert len(snap.refused) == 2
    assert str(forged) in snap.refused[0] and snap.refused[1] == f"{stray}: {STRAY_REASON}"
    assert snap.pending == 0 and snap.state.records == 2
    problem = writer.verify().problem
    assert problem is not None and problem.seq == 0
    assert problem.message.startswith(
        "2 queued batch(es) of operations are not this runner's and are never recorded; "
        "2 record(s) of the ledger itself verified. First: "
    )


def test_a_stored_run_reports_exactly_what_it_stored(writer: GitStore) -> None:
    # One new run, nothing pending from before, nothing dropped or refused.
    assert writer.commit([run_op("r2", "CVE-2", at=day(1))]) == CommitOutcome(
        stored=1, records=3, pending=0
    )


def test_nothing_queued_stores_nothing_and_still_reports_the_stray_batches(
    writer: GitStore, remote: Path
) -> None:
    # Another process of this runner stored the queue while this one waited for the lock.
    before = git("--git-dir", str(remote), "rev-parse", "ledger")
    assert writer.commit([]) == CommitOutcome(stored=0, records=0, pending=0)
    stray = plant_stray(writer)
    assert writer.commit([]) == CommitOutcome(
        stored=0, records=0, pending=0, refused=(f"{stray}: {STRAY_REASON}",)
    )
    assert git("--git-dir", str(remote), "rev-parse", "ledger") == before


def test_a_batch_not_this_runner_s_is_set_aside_and_reported_once(
    writer: GitStore, remote: Path
) -> None:
    forged = writer._queue.folder / "00000000000000000001-forged.json"
    forged.write_text("{}")
    outcome = writer.commit([run_op("r2", at=day(1))])
    moved = writer._queue.refused_folder / forged.name
    assert (outcome.stored, outcome.pending) == (1, 0)
    assert outcome.refused == (
        f"{moved}: it is not a batch this version queued (no version 2 MAC)",
    )
    assert not forged.exists() and moved.read_text() == "{}"
    assert writer.commit([run_op("r3", at=day(2))]) == CommitOutcome(stored=1, records=1, pending=0)


def lose_races(store: GitStore, other: GitStore, times: int) -> list[str]:
    """Make ``other`` push right after each of ``store``'s next ``times`` fetches."""
    fetch = store._fetch
    raced: list[str] = []

    def fetch_then_other_pushes() -> str | None:
        commit = fetch()
        if len(raced) < times:
            raced.append(f"b-{len(raced)}")
            other.commit([run_op(raced[-1])])
        return commit

    store._fetch = fetch_then_other_pushes  # type: ignore[method-assign]
    return raced


@pytest.mark.parametrize("races", [1, 2, 3])
def test_lost_races_are_retried_after_a_backoff_that_doubles(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, races: int
) -> None:
    limits: list[tuple[float, float]] = []
    monkeypatch.setattr(gitstore.random, "uniform", lambda a, b: limits.append((a, b)) or 0.0)
    a = store_for(remote, tmp_path / "a", retry_seconds=600.0, backoff=0.25, max_backoff=60.0)
    b = store_for(remote, tmp_path / "b")
    raced = lose_races(a, b, races)
    outcome = a.commit([run_op("a-1", "CVE-1")])
    assert outcome == CommitOutcome(stored=1, records=2, pending=0)
    assert len(raced) == races
    # No pause before the first push; then one per lost race, each twice the one before.
    assert limits == [(0, 0.25 * 2**n) for n in range(races)]
    runs = [r["data"]["run_id"] for r in remote_records(remote) if r["kind"] == "run"]
    assert runs == [*raced, "a-1"]


def test_a_budget_of_0_is_not_retried_even_on_a_clock_that_has_not_moved(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A coarse monotonic clock (15 ms on some systems) can read the same before and after a
    # push: a spent budget is spent, whatever the clock says.
    a = store_for(remote, tmp_path / "a", retry_seconds=0.0, backoff=0.0)
    b = store_for(remote, tmp_path / "b")
    lose_races(a, b, 1)
    monkeypatch.setattr(gitstore.time, "monotonic", lambda: 1000.0)
    outcome = a.commit([run_op("a-1")])
    assert (outcome.stored, outcome.pending) == (0, 1)
    assert outcome.reason is not None and "rejected 1 push(es) in 0s" in outcome.reason


def test_the_rejections_are_counted_in_the_reason(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clock that moves 1 s per reading: the budget of 2.5 s lasts two rejections.
    ticks = iter(range(1000, 100000))
    monkeypatch.setattr(gitstore.time, "monotonic", lambda: float(next(ticks)))
    monkeypatch.setattr(gitstore.time, "sleep", lambda seconds: None)
    a = store_for(remote, tmp_path / "a", retry_seconds=2.5, backoff=0.0)
    b = store_for(remote, tmp_path / "b")
    lose_races(a, b, 5)
    monkeypatch.setattr(gitstore, "locked", _unlocked)
    outcome = a.commit([run_op("a-1")])
    assert (outcome.stored, outcome.pending) == (0, 1)
    assert outcome.reason is not None
    assert outcome.reason.startswith("the remote rejected 2 push(es) in ")


@contextlib.contextmanager
def _unlocked(path: Path, **kwargs: object) -> Iterator[None]:
    yield


def test_a_waiter_waits_for_the_lock_as_long_as_the_holder_may_retry(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliancegate.ledger.lock import locked

    monkeypatch.setattr(gitstore, "DEFAULT_TIMEOUT", 0.1)
    store = store_for(remote, tmp_path / "a", retry_seconds=1.4)
    store._queue.prepare()
    with locked(store.cache / "lock"):
        outcome = store.commit([run_op("a-1")])
    # 0.1 s and the retry budget's 1.4 s.
    assert outcome.reason == "another process has held the ledger lock for 2s"


def test_a_refused_push_to_a_path_that_is_not_utf8_names_git_s_reason(tmp_path: Path) -> None:
    # git prints the remote's path on the same stream as the refusal.
    remote = tmp_path / os.fsdecode(b"remote-\xff.git")
    git("init", "--quiet", "--bare", str(remote), cwd=tmp_path)
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    store = store_for(remote, tmp_path / "a")
    outcome = store.commit([run_op("a-1")])
    assert outcome.reason == (
        f"{store.location} refused the push: [remote rejected] (pre-receive hook declined)"
    )


def test_the_cache_holds_the_ledger_branch_only_and_never_collects_garbage(
    writer: GitStore, remote: Path
) -> None:
    # Tags of the remote are not fetched (tags pointing into the branch would follow it).
    git("--git-dir", str(remote), "tag", "v1", "ledger")
    writer.commit([run_op("r2", at=day(1))])
    refs = git("--git-dir", str(writer._repo), "for-each-ref", "--format=%(refname)")
    assert refs.split() == [writer._ref]
    # gc never runs in the cache, so the tracking ref stays a loose file (_local_commit).
    config = git("--git-dir", str(writer._repo), "config", "--get", "gc.auto")
    assert config.strip() == "0"
    # A bare repository: no work tree, so git never reads or writes the gated checkout.
    bare = git("--git-dir", str(writer._repo), "rev-parse", "--is-bare-repository")
    assert bare.strip() == "true"


def test_an_existing_cache_is_not_set_up_again(
    writer: GitStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []
    out = writer._git.out

    def recorded(*args: str, stdin: bytes | None = None) -> bytes:
        calls.append(args)
        return out(*args, stdin=stdin)

    monkeypatch.setattr(writer._git, "out", recorded)
    writer.snapshot(day(1))
    writer.commit([run_op("r2", at=day(1))])
    assert not [c for c in calls if c[0] in ("init", "config")]


def test_a_commit_writes_nothing_outside_the_state_folder(
    writer: GitStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The working directory is the gated checkout, which a pull request controls (a planted
    # head.json could be a symlink to anywhere); the system's temporary folder may be shared
    # or missing. The files of a commit are staged in the cache only.
    work = tmp_path / "work"
    work.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (work / "records.jsonl").symlink_to(victim)
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    outcome = writer.commit([run_op("r2", "CVE-2", at=day(1))])
    assert (outcome.stored, outcome.pending) == (1, 0)
    assert sorted(p.name for p in work.iterdir()) == ["records.jsonl"]
    assert victim.read_text() == "untouched"
    assert writer.verify().records == 5


# ------------------------------------------------------------------ opening a store
# What ``git:URL#BRANCH`` means, where a store looks for its remote, cache, key and queue.


@pytest.mark.parametrize(
    ("value", "url", "branch"),
    [
        ("git:/srv/ledger.git#compliance", "/srv/ledger.git", "compliance"),
        ("git:/srv/a#b.git#ledger", "/srv/a#b.git", "ledger"),  # the last # splits
        ("git:https://example.com/o/r.git#a/b", "https://example.com/o/r.git", "a/b"),
        ("git:.#x", ".", "x"),
        ("/srv/no-prefix.git#ledger", "/srv/no-prefix.git", "ledger"),
    ],
)
def test_a_git_location_is_split_at_its_last_hash(value: str, url: str, branch: str) -> None:
    location = gitstore.parse_git_location(value)
    assert (location.url, location.branch) == (url, branch)


@pytest.mark.parametrize(
    "value", ["git:/srv/ledger.git", "git:#ledger", "git:/srv/ledger.git#", "git:", "git:#"]
)
def test_a_git_location_without_url_or_branch_says_how_to_write_one(value: str) -> None:
    with pytest.raises(LedgerError) as caught:
        gitstore.parse_git_location(value)
    assert caught.value.message == f"{value!r} is not a git ledger location"
    assert caught.value.hint == "write git:URL#BRANCH, e.g. git:.#compliance-ledger"


@pytest.mark.parametrize("branch", ["-x", "a..b", "a//b", "a.", "a/", "a b", "a~1"])
def test_a_git_location_with_a_bad_branch_names_it(branch: str) -> None:
    value = f"git:/srv/l.git#{branch}"
    with pytest.raises(LedgerError) as caught:
        gitstore.parse_git_location(value)
    assert caught.value.message == f"{branch!r} is not a valid branch name"
    assert caught.value.subject == value


def test_a_relative_remote_is_found_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    location = gitstore.parse_git_location("git:../shared.git#ledger")
    given = GitStore(location, tmp_path / "s1", cwd=tmp_path / "a" / "b", environ={})
    assert given.remote == gitstore.Remote(str(tmp_path / "a" / "shared.git"))
    monkeypatch.chdir(tmp_path / "a")
    default = GitStore(location, tmp_path / "s2", environ={})
    assert default.remote == gitstore.Remote(str(tmp_path / "shared.git"))
    for url in ("https://example.com/o/r.git", "git@example.com:o/r.git", "/abs/r.git"):
        absolute = GitStore(gitstore.parse_git_location(f"git:{url}#l"), tmp_path / "s3")
        assert absolute.remote == gitstore.Remote(url)


def test_git_dot_opens_the_gated_repository_s_origin(tmp_path: Path) -> None:
    root = repo(tmp_path / "work", ("remote.origin.url", "/srv/origin.git"))
    store = GitStore(gitstore.parse_git_location("git:.#ledger"), tmp_path / "s", cwd=root)
    assert store.remote == gitstore.Remote("/srv/origin.git")
    assert store.location == "git:.#ledger"


def test_the_store_s_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 50 ms doubling up to 2 s between retries; 120 s for any git command.
    limits: list[float] = []
    monkeypatch.setattr(gitstore.random, "uniform", lambda a, b: limits.append(b) or 0.0)
    monkeypatch.setattr(gitstore.time, "sleep", lambda seconds: None)
    store = store_for(tmp_path / "r.git", tmp_path / "s")
    far = time.monotonic() + 1e6
    for attempt in (0, 1, 5, 6):
        store._pause(attempt, far)
    assert limits == [0.05, 0.1, 1.6, 2.0]
    assert store._git.timeout == 120.0
    assert store_for(tmp_path / "r.git", tmp_path / "s2", timeout=7.5)._git.timeout == 7.5


def test_a_store_ignores_the_git_variables_of_a_hook_it_runs_in(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A gate run from a git hook inherits GIT_DIR, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY...
    # of the gated repository; the store's git commands must not see them.
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(tmp_path / "hook-objects"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "hook-index"))
    store = GitStore(gitstore.parse_git_location(f"git:{remote}#ledger"), tmp_path / "s")
    assert store.commit([run_op("r1", at=day(0))]).stored == 1
    assert store.verify().records == 1
    assert not (tmp_path / "hook-objects").exists()


def test_a_key_file_inside_the_gated_checkout_is_refused(tmp_path: Path) -> None:
    from compliancegate.signing.keys import SigningKeyError, generate

    root = repo(tmp_path / "work")
    generate(root / "ledger.key")
    environ = {"COMPLIANCEGATE_SIGNING_KEY_FILE": str(root / "ledger.key")}
    location = gitstore.parse_git_location(f"git:{tmp_path / 'r.git'}#ledger")
    with pytest.raises(SigningKeyError):
        GitStore(location, tmp_path / "s", cwd=root / ".", environ=environ)


def test_a_batch_queued_for_another_ledger_is_refused(remote: Path, tmp_path: Path) -> None:
    # Two ledgers given the same state folder: each refuses the other's batches.
    other = tmp_path / "other.git"
    git("init", "--quiet", "--bare", str(other), cwd=tmp_path)
    mine = store_for(remote, tmp_path / "shared")
    theirs = store_for(other, tmp_path / "shared")
    theirs._queue.add([run_op("theirs", at=day(0))])
    outcome = mine.commit([run_op("mine", at=day(0))])
    assert (outcome.stored, outcome.pending) == (1, 0)
    assert len(outcome.refused) == 1 and "queued for another ledger" in outcome.refused[0]


def test_a_snapshot_then_a_commit_replay_the_ledger_once(
    writer: GitStore, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A production check reads the findings, then records its run on the same commit.
    loads: list[str | None] = []
    fresh = store_for(remote, writer.cache)
    read = fresh._read

    def counted(commit: str | None) -> object:
        loads.append(commit)
        return read(commit)

    monkeypatch.setattr(fresh, "_read", counted)
    snap = fresh.snapshot(day(1))
    assert [f.title for f in snap.state.live()] == ["CVE-1 in pkg"]
    outcome = fresh.commit([run_op("r2", "CVE-2", at=day(1))])
    assert outcome == CommitOutcome(stored=1, records=3, pending=0)
    assert len(loads) == 1
    # The replay kept is of the commit it was made from: the next commit reads the new one.
    later = fresh.commit([run_op("r3", at=day(2))])
    assert later == CommitOutcome(stored=1, records=2, pending=0)
    assert len(loads) == 2 and loads[0] != loads[1]
    assert fresh.verify().records == 7


def test_without_a_state_folder_the_store_uses_the_ledger_s_own_under_the_state_directory(
    remote: Path, tmp_path: Path
) -> None:
    from compliancegate.ledger.placement import ledger_state

    root = repo(tmp_path / "work")
    location = gitstore.parse_git_location(f"git:{remote}#ledger")
    environ = {"COMPLIANCEGATE_STATE_DIR": str(tmp_path / "state")}
    store = GitStore(location, cwd=root, environ=environ)
    assert store.cache == ledger_state(f"git:{remote}#ledger", root, environ)
    assert store.cache.parent.parent == tmp_path / "state"
    # A state folder given is used as it is.
    assert GitStore(location, tmp_path / "given", cwd=root, environ=environ).cache == (
        tmp_path / "given"
    )
    # Inside the gated checkout, which a pull request controls, it is refused.
    inside = {"COMPLIANCEGATE_STATE_DIR": str(root / ".state")}
    with pytest.raises(LedgerError) as caught:
        GitStore(location, cwd=root, environ=inside)
    assert "inside the repository being gated" in caught.value.message


def test_git_dot_pushes_to_the_push_url_of_the_gated_repository(
    remote: Path, tmp_path: Path
) -> None:
    # CI keeps the credential that may push in the push URL: fetch from origin, push there.
    push = tmp_path / "push.git"
    git("init", "--quiet", "--bare", str(push), cwd=tmp_path)
    root = repo(
        tmp_path / "work", ("remote.origin.url", str(remote)), ("remote.origin.pushurl", str(push))
    )
    store = GitStore(gitstore.parse_git_location("git:.#ledger"), tmp_path / "s", cwd=root)
    assert store.commit([run_op("r1", at=day(0))]).stored == 1
    assert remote_records(push, "ledger")[0]["kind"] == "run"
    assert git("--git-dir", str(remote), "for-each-ref").strip() == ""


def test_an_unreachable_remote_keeps_the_run_pending_says_why_and_reports_the_strays(
    tmp_path: Path,
) -> None:
    # The fetch fails: the outcome names the remote and git's reason, the run stays queued,
    # and the stray batches of the checkout are still reported (kills _push_queued's
    # failure-path mutants: no reason, an early return, refused left out).
    store = store_for(tmp_path / "not-there.git", tmp_path / "a", retry_seconds=0.0)
    stray = plant_stray(store)
    outcome = store.commit([run_op("r1", "CVE-1")])
    assert isinstance(outcome, CommitOutcome)
    assert (outcome.stored, outcome.records, outcome.pending) == (0, 0, 1)
    assert outcome.reason is not None
    assert outcome.reason.startswith(f"cannot fetch {store.location}: "), outcome.reason
    assert outcome.refused == (f"{stray}: {STRAY_REASON}",)


def test_a_stale_operation_queued_for_a_git_ledger_is_dropped_and_counted(
    remote: Path, tmp_path: Path
) -> None:
    # An acknowledgement of a finding resolved meanwhile cannot be recorded: the success
    # outcome says it was dropped, and the ledger still verifies.
    from compliancegate.ledger.operations import Action, FindingOp, new_op_id
    from compliancegate.ledger.state import finding_id

    store = store_for(remote, tmp_path / "a")
    store.commit([run_op("r0", "CVE-1")])
    fid = finding_id("fp-CVE-1", 1)
    store.commit([run_op("r1")])
    outcome = store.commit([FindingOp(new_op_id(), day(2), "bob", Action.ACK, fid)])
    assert outcome.dropped, outcome
    assert (outcome.stored, outcome.pending) == (0, 0)
    assert store.verify().ok
