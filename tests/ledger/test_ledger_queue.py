"""The ledger's queue is not an input: only what this runner queued is ever stored.

Every way an attacker (or an older version) can put an operation where a queue is read:
files committed to the gated repository where older versions kept the queue, a batch
without a MAC or with a wrong one, a batch altered after it was queued, one queued for
another ledger or by another runner, an unreadable file. Each is refused with a notice,
never stored, and ``ledger verify`` fails naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from ledger_project import Project, cli, day, git, queued, records, refused

from compliancegate.ledger.filestore import ledger_identity
from compliancegate.ledger.operations import RunOp, new_op_id, to_json
from compliancegate.ledger.pending import KEY_FILE, PendingQueue
from compliancegate.ledger.placement import ledger_state, state_root

LEDGER = ".compliancegate/ledger"


def forged_run(run_id: str = "forged") -> RunOp:
    """A run that evaluated both policies and found nothing: stored, it would resolve every
    open finding of the project (and unblock a production release)."""
    return RunOp(
        new_op_id(),
        day(3),
        run_id,
        "staging",
        None,
        None,
        None,
        "compliant",
        "low",
        "test",
        2,
        ("no-critical-vulns", "images-pinned"),
        (),
    )


def file_queue(project: Project) -> PendingQueue:
    """The queue of the project's default file ledger, as the store finds it."""
    folder = project.root / LEDGER
    identity = ledger_identity(folder)
    return PendingQueue(ledger_state(identity, project.root, os.environ), identity)


def open_findings(location: str | None = None) -> list[str]:
    args = ["findings", "list", "--open", "--format", "json"]
    outcome = cli([*args, "--ledger", location] if location else args, now=day(4))
    assert outcome.code == 0, outcome.output
    return [f["title"] for f in outcome.json()["findings"]]


def _batch_v1(queue: PendingQueue, tmp_path: Path) -> bytes:
    # What versions before the authenticated queue wrote: the bare operation.
    return json.dumps(to_json(forged_run())).encode()


def _no_mac(queue: PendingQueue, tmp_path: Path) -> bytes:
    return json.dumps({"v": 2, "ledger": queue._ledger, "ops": [to_json(forged_run())]}).encode()


def _wrong_mac(queue: PendingQueue, tmp_path: Path) -> bytes:
    ops = [to_json(forged_run())]
    return json.dumps({"v": 2, "ledger": queue._ledger, "ops": ops, "mac": "0" * 64}).encode()


def _altered(queue: PendingQueue, tmp_path: Path) -> bytes:
    # A batch this runner really queued (a failing run), edited afterwards into a clean run.
    (path,) = queue.add([forged_run("genuine")])
    data = json.loads(path.read_bytes())
    path.unlink()
    data["ops"][0]["run_id"] = "forged"
    return json.dumps(data).encode()


def _other_ledger(queue: PendingQueue, tmp_path: Path) -> bytes:
    # Authentic, with this runner's key, but queued for another ledger.
    other = PendingQueue(queue.state, "file:/somewhere/else")
    (path,) = other.add([forged_run()])
    data = path.read_bytes()
    path.unlink()
    return data


def _other_runner(queue: PendingQueue, tmp_path: Path) -> bytes:
    # Authentic for this ledger, but with another runner's key (copied from its state dir).
    other = PendingQueue(tmp_path / "other-runner", queue._ledger)
    (path,) = other.add([forged_run()])
    return path.read_bytes()


def _garbage(queue: PendingQueue, tmp_path: Path) -> bytes:
    return b"\xff not json"


def _deep(queue: PendingQueue, tmp_path: Path) -> bytes:
    return b"[" * 100_000 + b"]" * 100_000


FORGERIES = {
    "old-format": _batch_v1,
    "no-mac": _no_mac,
    "wrong-mac": _wrong_mac,
    "altered": _altered,
    "other-ledger": _other_ledger,
    "other-runner": _other_runner,
    "garbage": _garbage,
    "deeply-nested": _deep,
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_batch_this_runner_did_not_queue_is_refused(
    project: Project, state: Path, tmp_path: Path, forgery: str
) -> None:
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging"], now=day(0)).code == 1
    queue = file_queue(project)
    # The key exists once this runner queued anything; make it exist as on a real runner.
    queue.add([forged_run("warm-up")])
    for path in queue.folder.glob("*.json"):
        path.unlink()
    data = FORGERIES[forgery](queue, tmp_path)
    queue.folder.mkdir(parents=True, exist_ok=True)
    planted = queue.folder / "00000000000000000001-forged.json"
    planted.write_bytes(data)

    outcome = cli(["check", "--env", "staging", "--format", "json"], now=day(5))
    assert outcome.code == 1, outcome.output
    notices = [n for n in outcome.json()["notices"] if n["code"] == "ledger-refused"]
    assert len(notices) == 1 and planted.name in notices[0]["message"]
    run_ids = [r["data"]["run_id"] for r in records(project.root / LEDGER) if r["kind"] == "run"]
    assert "forged" not in run_ids and len(run_ids) == 2
    assert open_findings() == ["CVE-1 in pkg-CVE-1"]
    # Set aside, reported by verify until someone looks at it; never read again.
    assert queued(state) == [] and [p.name for p in refused(state)] == [planted.name]
    verify = cli(["ledger", "verify"])
    assert verify.code == 1 and planted.name in verify.stdout, verify.output
    again = cli(["check", "--env", "staging", "--format", "json"], now=day(6))
    assert "ledger-refused" not in [n["code"] for n in again.json()["notices"]]
    for path in refused(state):
        path.unlink()
    assert cli(["ledger", "verify"]).code == 0


def test_a_genuine_queued_run_is_stored_by_the_next_run(project: Project, state: Path) -> None:
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging"], now=day(0)).code == 1
    file_queue(project).add([forged_run("kept-pending")])
    outcome = cli(["check", "--env", "staging", "--format", "json"], now=day(5))
    assert [n["code"] for n in outcome.json()["notices"]] == ["ledger-synced"]
    run_ids = [r["data"]["run_id"] for r in records(project.root / LEDGER) if r["kind"] == "run"]
    assert "kept-pending" in run_ids and queued(state) == []


def old_cache_key(remote: Path, branch: str) -> str:
    """Where versions before the state directory kept a git ledger's queue."""
    return hashlib.sha256(f"{remote}#{branch}".encode()).hexdigest()[:16]


def test_pending_files_committed_to_the_gated_repository_are_never_recorded(
    project: Project, remote: Path, state: Path
) -> None:
    location = f"git:{remote}#ledger"
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging", "--ledger", location], now=day(0)).code == 1
    assert open_findings(location) == ["CVE-1 in pkg-CVE-1"]
    # The pull request commits queued operations where older versions read their queue,
    # and a batch with a MAC under a key of its own.
    forged = json.dumps(to_json(forged_run())).encode()
    own_key = PendingQueue(project.root / "attacker", location)
    (signed,) = own_key.add([forged_run()])
    places = [
        f"{LEDGER}/git/{old_cache_key(remote, 'ledger')}/pending/00000000000000000001-a.json",
        f"{LEDGER}/pending/00000000000000000001-b.json",
        f"{LEDGER}/pending/00000000000000000002-c.json",
    ]
    for place, data in zip(places, [forged, forged, signed.read_bytes()], strict=True):
        target = project.root / place
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    git("init", "--quiet", "-b", "main", cwd=project.root)
    git("add", "-A", cwd=project.root)
    git("commit", "--quiet", "-m", "innocent change", cwd=project.root)

    outcome = cli(
        ["check", "--env", "staging", "--ledger", location, "--format", "json"], now=day(5)
    )
    assert outcome.code == 1
    notices = [n["message"] for n in outcome.json()["notices"] if n["code"] == "ledger-refused"]
    assert len(notices) == 3 and all("inside the repository being gated" in n for n in notices)
    assert open_findings(location) == ["CVE-1 in pkg-CVE-1"]
    data = git("--git-dir", str(remote), "show", "ledger:records.jsonl")
    assert "forged" not in data
    verify = cli(["ledger", "verify", "--ledger", location])
    assert verify.code == 1 and "00000000000000000001-a.json" in verify.stdout
    listed = cli(["findings", "list", "--ledger", location], now=day(5))
    assert listed.code == 0 and "ledger-refused" in listed.stderr
    # The files are the repository's: reported every time, never moved or stored.
    assert all((project.root / place).exists() for place in places)
    assert queued(state) == []


def test_the_queue_key_is_private_and_refused_otherwise(project: Project, state: Path) -> None:
    queue = file_queue(project)
    (batch,) = queue.add([forged_run("kept")])
    key = queue.key_file
    assert key.parent == queue.state and key.name == KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == 32
    assert stat.S_IMODE(queue.state.stat().st_mode) == 0o700
    assert stat.S_IMODE(batch.stat().st_mode) & 0o077 == 0
    assert not str(state_root(os.environ)).startswith(str(project.root))

    key.chmod(0o644)
    outcome = cli(["check", "--env", "staging", "--format", "json"], now=day(1))
    assert outcome.code == 0
    (notice,) = outcome.json()["notices"]
    assert notice["code"] == "ledger-error" and "other users may read" in notice["message"]
    assert cli(["ledger", "verify"]).code == 1

    key.chmod(0o600)
    real = key.read_bytes()
    key.unlink()
    (state / "elsewhere.key").write_bytes(real)
    key.symlink_to(state / "elsewhere.key")
    assert "not a regular file" in cli(["ledger", "verify"]).stdout

    # Without its key, nothing queued can be authenticated: refused, not stored.
    key.unlink()
    outcome = cli(["check", "--env", "staging", "--format", "json"], now=day(2))
    codes = [n["code"] for n in outcome.json()["notices"]]
    assert codes == ["ledger-refused"], outcome.output
    assert "kept" not in [r["data"]["run_id"] for r in records(project.root / LEDGER)]


def test_two_runners_creating_the_key_at_once_share_it(tmp_path: Path) -> None:
    import threading

    queues = [PendingQueue(tmp_path / "state", "file:/l") for _ in range(8)]
    barrier = threading.Barrier(len(queues))

    def add(queue: PendingQueue) -> None:
        barrier.wait()
        queue.add([forged_run(f"r-{id(queue)}")])

    threads = [threading.Thread(target=add, args=(q,)) for q in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    contents = queues[0].load()
    assert len(contents.operations) == 8 and contents.refused == ()


@pytest.mark.parametrize("where", ["state-queue", "gated-tree"])
def test_a_forged_queue_entry_does_not_unblock_a_production_release(
    project: Project, where: str
) -> None:
    from ledger_project import policies_yaml

    # images-pinned blocks, and its control is break-fix: once open, a production release
    # that does not fix it is blocked. A forged "clean" run in a queue would resolve it.
    project.write(
        "policies/gate.yaml", policies_yaml().replace("enforcement: warn", "enforcement: block")
    )
    project.deploy(pinned=False)
    assert cli(["check", "--env", "staging"], now=day(0)).code == 1
    (project.root / "release/deploy.yaml").unlink()  # not evaluated: not fixed either
    queue = file_queue(project)
    forged = json.dumps(to_json(forged_run())).encode()
    if where == "state-queue":
        queue.add([forged_run("warm-up")])
        for path in queue.folder.glob("*.json"):
            path.write_bytes(forged)
    else:
        target = project.root / LEDGER / "pending" / "00000000000000000001-x.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(forged)
    outcome = cli(["check", "--env", "production", "--format", "json"], now=day(1))
    assert outcome.code == 1, outcome.output
    report = outcome.json()
    assert "compliancegate:break-fix" in [r["policy"]["id"] for r in report["results"]]
    assert "ledger-refused" in [n["code"] for n in report["notices"]]
    assert "forged" not in [r["data"]["run_id"] for r in records(project.root / LEDGER)]
