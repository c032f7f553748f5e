"""A ``kill -9`` in the middle of an append leaves a ledger that verifies: the torn tail is
set aside (or the append finished) by the next writer, and no earlier record is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ledger_project import Project, cli, day, iso, queued, records

# The child runs a real ``check`` whose append stops after writing ``CUT`` of its bytes
# (and fsyncing them), says so, and waits to be killed.
CHILD = textwrap.dedent(
    """
    import os, sys, time
    from compliancegate.ledger import files, gitstore

    mode = sys.argv[1]
    real_write = files.write_all

    def torn(fd, data):
        cut = {"none": 0, "half": len(data) // 2, "all": len(data)}[mode]
        real_write(fd, data[:cut])
        os.fsync(fd)
        print("stopped", flush=True)
        time.sleep(120)

    def stuck_push(self, commit):
        print("stopped", flush=True)
        time.sleep(120)

    files.write_all = torn
    gitstore.GitStore._push = stuck_push
    from compliancegate.cli import run
    sys.exit(run(sys.argv[2:]))
    """
)


def kill_mid_append(root: Path, mode: str, *args: str) -> None:
    """Run ``check`` in a child and ``kill -9`` it in the middle of its append."""
    env = dict(os.environ, COMPLIANCEGATE_NOW=iso(day(5)), NO_COLOR="1")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, "check", "--env", "staging", *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == b"stopped\n", line + child.stderr.read() if child.stderr else line
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL


@pytest.fixture
def ledger(project: Project) -> Path:
    """Three recorded runs: one opens a finding."""
    for n, critical in enumerate([("CVE-1",), ("CVE-1",), ()]):
        project.scan(*critical)
        cli(["check", "--env", "staging"], now=day(n))
    return project.root / ".compliancegate" / "ledger"


@pytest.mark.parametrize("mode", ["none", "half", "all"])
def test_kill_9_during_an_append_leaves_a_ledger_that_verifies(
    project: Project, ledger: Path, mode: str
) -> None:
    before = (ledger / "records.jsonl").read_bytes()
    project.scan("CVE-2")
    kill_mid_append(project.root, mode)

    written = (ledger / "records.jsonl").read_bytes()
    assert written.startswith(before) and len(written) >= len(before)
    if mode == "half":
        assert not written.endswith(b"\n")  # a torn last line
    outcome = cli(["ledger", "verify"], now=day(5))
    assert outcome.code == 0, outcome.output
    assert "interrupted" in outcome.stderr

    # The next run sets the torn tail aside (or finishes a complete append) and records.
    project.scan()
    after = cli(["check", "--env", "staging", "--format", "json"], now=day(6))
    assert after.code == 0
    codes = [n["code"] for n in after.json()["notices"]]
    assert cli(["ledger", "verify"], now=day(6)).code == 0
    kept = records(ledger)
    assert (ledger / "records.jsonl").read_bytes().startswith(before)
    runs = [r["data"]["run_id"] for r in kept if r["kind"] == "run"]
    quarantine = sorted((ledger / "quarantine").glob("*.part")) if mode == "half" else []
    if mode == "half":
        assert codes == ["ledger-recovered"]
        assert len(quarantine) == 1
        recovered = [r for r in kept if r["kind"] == "ledger.recovered"]
        assert recovered[0]["data"]["bytes"] == quarantine[0].stat().st_size
        assert len(runs) == 4  # the three before and the one after; the torn one set aside
    elif mode == "all":
        # Every byte of the killed run reached the disk: its append is finished, not lost.
        assert codes == [] and len(runs) == 5
    else:
        assert codes == [] and len(runs) == 4
        assert not (ledger / "quarantine").exists()


def test_kill_9_during_a_git_push_keeps_the_run_pending(
    project: Project, remote: Path, state: Path
) -> None:
    location = f"git:{remote}#ledger"
    assert cli(["check", "--env", "staging", "--ledger", location], now=day(0)).code == 0
    kill_mid_append(project.root, "all", "--ledger", location)
    pending = queued(state)
    assert len(pending) == 1
    after = cli(["check", "--env", "staging", "--ledger", location, "--format", "json"], now=day(6))
    assert [n["code"] for n in after.json()["notices"]] == ["ledger-synced"]
    outcome = cli(["ledger", "verify", "--ledger", location])
    assert outcome.code == 0 and "3 record(s)" in outcome.stdout
    assert json.loads(pending[0].read_text() if pending[0].exists() else "null") is None


def test_killed_before_the_first_append_created_the_records_file(project: Project) -> None:
    # head.json announces an append, but the process died before records.jsonl existed.
    from compliancegate.ledger.chain import EMPTY, ChainHead
    from compliancegate.ledger.files import Head, LedgerFolder

    folder = project.root / ".compliancegate" / "ledger"
    folder.mkdir(parents=True)
    LedgerFolder(folder)._write_head(Head(EMPTY, ChainHead(1, "ab" * 32, 300)))
    assert not (folder / "records.jsonl").exists()
    after = cli(["check", "--env", "staging", "--format", "json"], now=day(1))
    assert after.code == 0, after.output
    assert not [n for n in after.json()["notices"] if n["code"].startswith("ledger")]
    assert cli(["ledger", "verify"], now=day(1)).code == 0
    assert [r["kind"] for r in records(folder)].count("run") == 1
