"""The git store, on real git: a bare repository in a temporary folder is the remote."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ledger_project import Project, cli, day, git, iso, policies_yaml

from compliancegate.ledger.clocks import NO_CLOCK
from compliancegate.ledger.gitcmd import clean_env
from compliancegate.ledger.gitstore import GitStore, parse_git_location
from compliancegate.ledger.interface import LedgerError
from compliancegate.ledger.operations import ObservedViolation, RunOp, new_op_id
from compliancegate.ledger.records import RecordKind
from compliancegate.model import Severity


def run_op(run_id: str, *cves: str, at: dt.datetime | None = None) -> RunOp:
    """A run of policy ``no-critical-vulns`` that finds ``cves``."""
    violations = tuple(
        ObservedViolation(
            f"fp-{cve}",
            "no-critical-vulns",
            ("tiny:VULN-1",),
            Severity.CRITICAL,
            f"{cve} in pkg",
            "vulnerabilities",
            None,
            None,
            None,
            None,
            NO_CLOCK,
        )
        for cve in cves
    )
    return RunOp(
        new_op_id(),
        at or day(0),
        run_id,
        "staging",
        None,
        None,
        None,
        "compliant",
        "low",
        "test",
        1,
        ("no-critical-vulns",),
        violations,
    )


def remote_records(remote: Path, branch: str = "ledger") -> list[dict[str, object]]:
    """The records on the remote branch."""
    data = git("--git-dir", str(remote), "show", f"{branch}:records.jsonl")
    return [json.loads(line) for line in data.splitlines()]


def store_for(remote: Path, root: Path, **kwargs: object) -> GitStore:
    return GitStore(parse_git_location(f"git:{remote}#ledger"), root, cwd=root, **kwargs)  # type: ignore[arg-type]


def test_runs_are_recorded_on_the_branch(project: Project, remote: Path, state: Path) -> None:
    location = f"git:{remote}#ledger"
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging", "--ledger", location], now=day(0)).code == 1
    project.scan()
    assert cli(["check", "--env", "staging", "--ledger", location], now=day(1)).code == 0
    kinds = [r["kind"] for r in remote_records(remote)]
    assert kinds == ["run", "finding.opened", "run", "finding.resolved"]
    log = git("--git-dir", str(remote), "log", "--format=%s", "ledger").splitlines()
    assert len(log) == 2 and all(s.startswith("compliancegate: run ") for s in log)
    verified = cli(["ledger", "verify", "--ledger", location])
    assert verified.code == 0 and "4 record(s)" in verified.stdout
    listed = cli(["findings", "list", "--ledger", location, "--format", "json"], now=day(2))
    assert [f["status"] for f in listed.json()["findings"]] == ["resolved"]
    # The cache and the queue live in the state directory: nothing in the gated checkout.
    assert not (project.root / ".compliancegate").exists()
    (cache,) = state.glob("ledgers/*/repo.git")
    assert (cache.parent / "location.txt").read_text() == f"git:{remote}#ledger\n"


def test_an_unreachable_remote_keeps_records_pending_and_the_decision(
    project: Project, tmp_path: Path
) -> None:
    missing = tmp_path / "not-there.git"
    location = f"git:{missing}#ledger"
    project.scan("CVE-1")
    baseline = cli(["check", "--env", "staging", "--no-ledger"], now=day(0))
    offline = cli(
        ["check", "--env", "staging", "--ledger", location, "--format", "json"], now=day(0)
    )
    assert offline.code == baseline.code == 1
    notices = {n["code"]: n["message"] for n in offline.json()["notices"]}
    assert "ledger-pending" in notices and "next run records them" in notices["ledger-pending"]
    text = cli(["check", "--env", "staging", "--ledger", location], now=day(1))
    assert text.code == 1 and "ledger-pending: 2 operation(s)" in text.stdout
    assert cli(["ledger", "sync", "--ledger", location]).code == 2

    git("init", "--quiet", "--bare", str(missing), cwd=tmp_path)
    project.scan()
    online = cli(
        ["check", "--env", "staging", "--ledger", location, "--format", "json"], now=day(2)
    )
    assert online.code == 0
    assert [n["code"] for n in online.json()["notices"]] == ["ledger-synced"]
    runs = [r for r in remote_records(missing) if r["kind"] == "run"]
    assert len(runs) == 3
    kinds = [r["kind"] for r in remote_records(missing)]
    assert kinds.count("finding.opened") == 1 and kinds.count("finding.resolved") == 1
    synced = cli(["ledger", "sync", "--ledger", location])
    assert synced.code == 0 and "nothing pending" in synced.stdout


def test_a_production_check_reads_break_fix_findings_from_the_local_copy_when_offline(
    project: Project, remote: Path, tmp_path: Path
) -> None:
    location = f"git:{remote}#ledger"
    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.deploy(pinned=False)
    cli(["check", "--env", "staging", "--ledger", location], now=day(0))
    (project.root / "release/deploy.yaml").unlink()
    remote.rename(tmp_path / "away.git")
    outcome = cli(
        ["check", "--env", "production", "--ledger", location, "--format", "json"], now=day(1)
    )
    assert outcome.code == 1
    document = outcome.json()
    assert {"ledger-offline", "ledger-pending"} <= {n["code"] for n in document["notices"]}
    assert "compliancegate:break-fix" in [r["policy"]["id"] for r in document["results"]]


def test_the_branch_of_the_gated_repository_with_git_variables_inherited(
    project: Project, remote: Path, tmp_path: Path
) -> None:
    git("init", "--quiet", "-b", "main", cwd=project.root)
    git("add", "-A", cwd=project.root)
    git("commit", "--quiet", "-m", "release", cwd=project.root)
    git("remote", "add", "origin", str(remote), cwd=project.root)
    git("push", "--quiet", "origin", "main", cwd=project.root)
    head = git("rev-parse", "HEAD", cwd=project.root).strip()
    objects = sorted((project.root / ".git/objects").rglob("*"))
    # As inside a git hook (a pre-receive hook also sets GIT_OBJECT_DIRECTORY): inherited,
    # these would send the store's objects and index into the gated repository.
    dot_git = project.root / ".git"
    inherited = {
        "GIT_DIR": str(dot_git),
        "GIT_WORK_TREE": str(project.root),
        "GIT_INDEX_FILE": str(dot_git / "index"),
        "GIT_OBJECT_DIRECTORY": str(dot_git / "objects"),
    }
    outcome = cli(["check", "--env", "staging", "--ledger", "git:.#compliance-ledger"], **inherited)
    assert outcome.code == 0, outcome.output
    assert "Notices:" not in outcome.stdout
    assert sorted((project.root / ".git/objects").rglob("*")) == objects
    (run,) = remote_records(remote, "compliance-ledger")
    assert run["data"]["commit"] == head and run["data"]["branch"] == "main"
    # The gated branch is untouched; the ledger branch is its own history.
    assert git("--git-dir", str(remote), "rev-parse", "main").strip() == head
    assert "compliance-ledger" in git("--git-dir", str(remote), "branch", "--list")


def test_git_dot_outside_a_repository_is_a_notice_not_a_failure(project: Project) -> None:
    outcome = cli(["check", "--env", "staging", "--ledger", "git:.#ledger", "--format", "json"])
    assert outcome.code == 0
    (notice,) = outcome.json()["notices"]
    assert notice["code"] == "ledger-error" and "not a git repository" in notice["message"]


def test_a_rejected_push_is_rederived_on_the_new_head(remote: Path, tmp_path: Path) -> None:
    a = store_for(remote, tmp_path / "a", backoff=0.0)
    b = store_for(remote, tmp_path / "b")
    b.commit([run_op("b-0")])
    fetch = a._fetch
    calls = []

    def fetch_then_b_pushes() -> str | None:
        commit = fetch()
        if not calls:
            # Between A's fetch and A's push, B records CVE-1 first.
            b.commit([run_op("b-1", "CVE-1")])
        calls.append(commit)
        return commit

    a._fetch = fetch_then_b_pushes  # type: ignore[method-assign]
    outcome = a.commit([run_op("a-1", "CVE-1", "CVE-2")])
    assert outcome.pending == 0 and outcome.stored == 1 and len(calls) == 2
    kinds = [
        (r["kind"], r["data"].get("title") or r["data"].get("run_id"))
        for r in remote_records(remote)
    ]  # type: ignore[union-attr]
    assert kinds == [
        ("run", "b-0"),
        ("run", "b-1"),
        ("finding.opened", "CVE-1 in pkg"),
        ("run", "a-1"),
        ("finding.opened", "CVE-2 in pkg"),  # CVE-1 is already open: not opened twice
    ]
    assert a.verify().ok


def racing(a: GitStore, b: GitStore, races: int | None) -> list[str]:
    """Make ``b`` push between each of ``a``'s fetches and pushes, ``races`` times (None:
    forever): every such push of ``a`` is rejected by the real remote."""
    fetch = a._fetch
    pushed: list[str] = []

    def fetch_then_b_pushes() -> str | None:
        commit = fetch()
        if races is None or len(pushed) < races:
            run_id = f"b-{len(pushed)}"
            assert b.commit([run_op(run_id)]).pending == 0
            pushed.append(run_id)
        return commit

    a._fetch = fetch_then_b_pushes  # type: ignore[method-assign]
    return pushed


@pytest.mark.parametrize("races", [1, 11, 12, 13, 30])
def test_a_run_outlasts_any_number_of_rejections_within_its_time_budget(
    remote: Path, tmp_path: Path, races: int
) -> None:
    # Sizes below, at and above the old fixed count of 12 tries: a count would leave the
    # run pending; a time budget keeps trying on the new head until it lands.
    a = store_for(remote, tmp_path / "a", backoff=0.001, max_backoff=0.01)
    b = store_for(remote, tmp_path / "b")
    pushed = racing(a, b, races)
    outcome = a.commit([run_op("a-1", "CVE-1")])
    assert (outcome.pending, outcome.stored, outcome.reason) == (0, 1, None)
    assert len(pushed) == races
    run_ids = [r["data"]["run_id"] for r in remote_records(remote) if r["kind"] == "run"]  # type: ignore[index]
    assert run_ids == [*pushed, "a-1"]
    assert not list((tmp_path / "a").glob("pending/*.json"))
    assert a.verify().ok


def test_the_time_budget_runs_out_then_records_stay_pending(remote: Path, tmp_path: Path) -> None:
    a = store_for(remote, tmp_path / "a", retry_seconds=0.5, backoff=0.01, max_backoff=0.05)
    b = store_for(remote, tmp_path / "b")
    pushed = racing(a, b, None)
    started = time.monotonic()
    outcome = a.commit([run_op("a-1")])
    elapsed = time.monotonic() - started
    assert outcome.pending == 1 and outcome.reason and "retry budget 0.5s" in outcome.reason
    assert f"rejected {len(pushed)} push(es)" in outcome.reason
    assert 0.5 <= elapsed < 30
    # The next run, with the remote quiet again, stores both.
    a._fetch = GitStore._fetch.__get__(a)  # type: ignore[method-assign]
    later = a.commit([run_op("a-2")])
    assert (later.pending, later.synced, later.stored) == (0, 1, 2)
    run_ids = [r["data"]["run_id"] for r in remote_records(remote) if r["kind"] == "run"]  # type: ignore[index]
    assert run_ids == [*pushed, "a-1", "a-2"]


def test_a_push_the_remote_refuses_for_good_is_not_retried(remote: Path, tmp_path: Path) -> None:
    store_for(remote, tmp_path / "b").commit([run_op("b-0")])
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    a = store_for(remote, tmp_path / "a")  # the default budget of 120 s
    started = time.monotonic()
    outcome = a.commit([run_op("a-1")])
    assert time.monotonic() - started < 30
    assert outcome.pending == 1 and "refused the push" in (outcome.reason or "")
    assert "declined" in (outcome.reason or "")


@pytest.mark.parametrize(
    ("line", "race"),
    [
        ("!\tabc:refs/heads/l\t[rejected] (fetch first)", True),
        ("!\tabc:refs/heads/l\t[rejected] (non-fast-forward)", True),
        ("!\tabc:refs/heads/l\t[remote rejected] (cannot lock ref 'refs/heads/l')", True),
        ("!\tabc:refs/heads/l\t[remote rejected] (failed to update ref)", True),
        ("!\tabc:refs/heads/l\t[remote rejected] (pre-receive hook declined)", False),
        ("!\tabc:refs/heads/l\t[remote rejected] (protected branch hook declined)", False),
    ],
)
def test_lost_races_are_told_from_refusals(line: str, race: bool) -> None:
    from compliancegate.ledger.gitstore import _lost_race

    assert _lost_race(line) is race


def test_the_retry_budget_is_configurable_and_checked(project: Project, remote: Path) -> None:
    from compliancegate.ledger.location import open_store, retry_seconds

    assert retry_seconds({}) == 120.0
    assert retry_seconds({"COMPLIANCEGATE_LEDGER_RETRY_SECONDS": "300"}) == 300.0
    store = open_store(
        f"git:{remote}#ledger", environ={**os.environ, "COMPLIANCEGATE_LEDGER_RETRY_SECONDS": "7"}
    )
    assert store._retry_seconds == 7.0  # type: ignore[attr-defined]
    location = f"git:{remote}#ledger"
    for bad in ("soon", "-1", "nan", "inf", "1e9"):
        outcome = cli(
            ["check", "--env", "staging", "--ledger", location],
            COMPLIANCEGATE_LEDGER_RETRY_SECONDS=bad,
        )
        assert outcome.code == 2, (bad, outcome.output)
        assert "COMPLIANCEGATE_LEDGER_RETRY_SECONDS" in outcome.output
    assert not remote.joinpath("refs/heads/ledger").exists()


def test_an_operation_recorded_before_a_lost_acknowledgement_is_not_recorded_twice(
    remote: Path, tmp_path: Path
) -> None:
    a = store_for(remote, tmp_path / "a")
    op = run_op("a-1", "CVE-1")
    a.commit([op])
    # As if the push had landed but the answer was lost: the operation is pending again.
    a._queue.add([op])
    assert a.commit([]).stored == 1
    assert [r["kind"] for r in remote_records(remote)] == ["run", "finding.opened"]


def test_a_rewritten_history_is_reported(project: Project, remote: Path, tmp_path: Path) -> None:
    location = f"git:{remote}#ledger"
    for n in range(3):
        project.scan(*(["CVE-1"] if n == 1 else []))
        cli(["check", "--env", "staging", "--ledger", location], now=day(n))
    assert cli(["ledger", "verify", "--ledger", location]).code == 0
    # Someone force-pushes the branch back to its first commit: a valid chain, but shorter.
    first = git("--git-dir", str(remote), "rev-list", "--max-parents=0", "ledger").strip()
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", first)
    outcome = cli(["ledger", "verify", "--ledger", location])
    assert outcome.code == 1 and "history was rewritten" in outcome.stdout


def test_clean_env_strips_inherited_git_variables() -> None:
    env = clean_env(
        {
            "PATH": "/bin",
            "HOME": "/home/ci",
            "GIT_DIR": "/elsewhere",
            "GIT_INDEX_FILE": "/elsewhere/index",
            "GIT_AUTHOR_NAME": "someone",
            "GIT_SSH_COMMAND": "ssh -i key",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.sslVerify",
            "GIT_CONFIG_VALUE_0": "true",
        },
        [("http.https://example.com/.extraheader", "AUTHORIZATION: basic xyz")],
    )
    assert "GIT_DIR" not in env and "GIT_INDEX_FILE" not in env
    assert env["GIT_AUTHOR_NAME"] == "compliancegate" and env["GIT_SSH_COMMAND"] == "ssh -i key"
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["PATH"] == "/bin"
    assert env["GIT_CONFIG_COUNT"] == "2"
    assert env["GIT_CONFIG_KEY_1"] == "http.https://example.com/.extraheader"


@pytest.mark.parametrize("bad", ["git:#x", "git:url", "git:url#", "git:url#-x", "git:u#a..b"])
def test_malformed_git_locations_are_rejected(bad: str) -> None:
    with pytest.raises(LedgerError):
        parse_git_location(bad)


# --------------------------------------------------------------------------- concurrency

WORKERS = 8
RUNS = 25

# One CI runner: its own checkout (and cache), 25 gate runs against the shared remote.
WORKER = textwrap.dedent(
    """
    import json, sys
    from compliancegate.cli import run

    worker, runs, location = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    codes = []
    for i in range(runs):
        critical = []
        if i % 3 == 0:
            critical.append(f"CVE-W{worker}")
        if i % 5 == 0:
            critical.append("CVE-S")
        vulns = [{"id": c, "severity": "critical", "package": "p"} for c in critical]
        with open("release/scan.json", "w") as handle:
            json.dump({"vulnerabilities": vulns}, handle)
        codes.append(run(["check", "--env", "staging", "--ledger", location,
                          "--run-id", f"w{worker}-{i}", "--output", "report.txt"]))
    print(json.dumps(codes))
    """
)


def failing(run_id: str) -> set[str]:
    """What run ``w{worker}-{i}`` found (the worker's own rule, above)."""
    worker, i = (int(x) for x in run_id[1:].split("-"))
    found = set()
    if i % 3 == 0:
        found.add(f"CVE-W{worker}")
    if i % 5 == 0:
        found.add("CVE-S")
    return found


def test_concurrent_pipelines_lose_and_duplicate_nothing(
    project: Project, remote: Path, tmp_path: Path
) -> None:
    location = f"git:{remote}#ledger"
    env = dict(os.environ, COMPLIANCEGATE_NOW=iso(day(0)), NO_COLOR="1")
    children = []
    started = time.monotonic()
    for w in range(WORKERS):
        root = tmp_path / f"runner-{w}"
        Project(root).setup()
        # One runner each: its own checkout, and its own state directory (cache and queue).
        runner_env = dict(env, COMPLIANCEGATE_STATE_DIR=str(tmp_path / f"state-{w}"))
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(w), str(RUNS), location],
                cwd=root,
                env=runner_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err.decode()
        assert set(json.loads(out)) <= {0, 1}
    elapsed = time.monotonic() - started
    print(f"{WORKERS}x{RUNS} concurrent checks: {elapsed:.1f}s")

    # Nothing left pending anywhere: every run reached the remote.
    assert not list(tmp_path.glob("state-*/ledgers/*/pending/*.json"))
    assert not list(tmp_path.glob("state-*/ledgers/*/refused/*.json"))
    assert len(list(tmp_path.glob("state-*/ledgers/*/repo.git"))) == WORKERS
    assert cli(["ledger", "verify", "--ledger", location]).code == 0
    recorded = remote_records(remote)
    run_ids = [r["data"]["run_id"] for r in recorded if r["kind"] == "run"]  # type: ignore[index]
    assert len(run_ids) == WORKERS * RUNS == len(set(run_ids))

    # Replay the runs in ledger order through an independent model of finding lives: every
    # opening and resolution must be exactly the ledger's.
    live: dict[str, str] = {}  # CVE -> finding id
    expected: list[tuple[str, str, str]] = []
    actual: list[tuple[str, str, str]] = []
    by_id: dict[str, str] = {}
    current = ""
    for record in recorded:
        data: dict[str, str] = record["data"]  # type: ignore[assignment]
        if record["kind"] == RecordKind.RUN:
            current = data["run_id"]
            found = failing(current)
            expected += [(current, "opened", cve) for cve in sorted(found - set(live))]
            expected += [(current, "resolved", cve) for cve in sorted(set(live) - found)]
            live = {cve: "" for cve in found}
        elif record["kind"] == RecordKind.OPENED:
            cve = data["title"].split()[0]
            by_id[data["finding"]] = cve
            actual.append((current, "opened", cve))
        elif record["kind"] == RecordKind.RESOLVED:
            actual.append((current, "resolved", by_id[data["finding"]]))
    assert sorted(actual) == sorted(expected)
    assert len(expected) > 50  # the workload really opens and resolves findings


def test_git_dot_carries_the_ci_credentials_without_writing_them(
    project: Project, remote: Path
) -> None:
    from compliancegate.ledger.gitstore import gated_remote

    git("init", "--quiet", "-b", "main", cwd=project.root)
    git("remote", "add", "origin", str(remote), cwd=project.root)
    push_url = "https://ledger:secret-token@git.example.com/group/project.git"
    git("config", "remote.origin.pushurl", push_url, cwd=project.root)
    header = "AUTHORIZATION: basic c2VjcmV0LXRva2Vu"
    git("config", "http.https://github.com/.extraheader", header, cwd=project.root)
    found = gated_remote(project.root)
    assert found.url == str(remote)
    assert ("remote.origin.pushurl", push_url) in found.config
    assert ("http.https://github.com/.extraheader", header) in found.config
    store = GitStore(parse_git_location("git:.#ledger"), project.root / "cache", cwd=project.root)
    assert store.commit([]).pending == 0
    written = b"".join(p.read_bytes() for p in (project.root / "cache").rglob("*") if p.is_file())
    assert b"secret-token" not in written and b"c2VjcmV0LXRva2Vu" not in written


def test_processes_of_one_runner_share_its_cache_and_queue(remote: Path, tmp_path: Path) -> None:
    # Jobs of one runner (one user, one state directory) take turns on the cache; a job
    # waiting for it has queued its run already, and whoever holds the cache pushes it.
    import threading

    shared = tmp_path / "one-runner"
    outcomes: list[object] = []
    errors: list[BaseException] = []

    def job(n: int) -> None:
        try:
            for i in range(5):
                store = store_for(remote, shared, backoff=0.001, max_backoff=0.01)
                outcomes.append(store.commit([run_op(f"j{n}-{i}", f"CVE-{i % 2}")]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert all(o.pending == 0 for o in outcomes)  # type: ignore[attr-defined]
    run_ids = [r["data"]["run_id"] for r in remote_records(remote) if r["kind"] == "run"]  # type: ignore[index]
    assert sorted(run_ids) == sorted(f"j{n}-{i}" for n in range(4) for i in range(5))
    assert not list(shared.glob("pending/*.json")) and not list(shared.glob("refused/*"))
    assert store_for(remote, shared).verify().ok
