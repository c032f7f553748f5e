"""What ``verify`` of the git store refuses, with commits an adversary pushes by hand.

Written to kill mutants of ``gitstore.py`` (docs/mutation-testing.md, "Ledger: chain,
records, state, clocks, git store"): bytes after the head, a torn last line, a rewrite to the
same length, to a shorter or a longer history, each on a real bare repository.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ledger_project import day, git
from test_ledger_gitstore import run_op, store_for

from compliancegate.ledger.chain import ChainHead
from compliancegate.ledger.files import HEAD_FILE, RECORDS_FILE, Head, encode_head
from compliancegate.ledger.gitstore import GitStore
from compliancegate.ledger.records import line_hash


def blobs(remote: Path, ref: str = "ledger") -> tuple[bytes, bytes]:
    """``head.json`` and ``records.jsonl`` at ``ref``."""
    head = git("--git-dir", str(remote), "show", f"{ref}:{HEAD_FILE}").encode()
    records = git("--git-dir", str(remote), "show", f"{ref}:{RECORDS_FILE}").encode()
    return head, records


def push_by_hand(remote: Path, head: bytes, records: bytes, *, parent: bool = True) -> str:
    """A commit of ``head`` and ``records`` made on the remote's branch with git alone."""
    shas = []
    for data in (head, records):
        done = subprocess.run(
            ["git", "--git-dir", str(remote), "hash-object", "-w", "--stdin"],
            input=data,
            capture_output=True,
            check=True,
        )
        shas.append(done.stdout.decode().strip())
    listing = f"100644 blob {shas[0]}\t{HEAD_FILE}\n100644 blob {shas[1]}\t{RECORDS_FILE}\n"
    tree = (
        subprocess.run(
            ["git", "--git-dir", str(remote), "mktree"],
            input=listing.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    args = ["commit-tree", tree, "-m", "by hand"]
    if parent:
        args += ["-p", git("--git-dir", str(remote), "rev-parse", "ledger").strip()]
    commit = git("--git-dir", str(remote), *args).strip()
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", commit)
    return commit


def head_of(records: bytes) -> bytes:
    lines = records.splitlines()
    last = lines[-1]
    return encode_head(Head(ChainHead(len(lines), line_hash(last), len(records))))


@pytest.fixture
def writer(remote: Path, tmp_path: Path) -> GitStore:
    """A runner that recorded two runs (four records) on the remote."""
    store = store_for(remote, tmp_path / "writer")
    store._queue.add([run_op("r1", "CVE-1", at=day(0))])
    store._queue.add([run_op("r2", "CVE-1", "CVE-2", at=day(1))])
    assert store.commit([]).stored == 2
    report = store.verify()
    assert report.ok and report.records == 4
    return store


@pytest.mark.parametrize(
    "extra", [b"x", b"\n", b"{}\n", b" "], ids=["byte", "newline", "object", "space"]
)
def test_bytes_after_the_head_are_refused(writer: GitStore, remote: Path, extra: bytes) -> None:
    head, records = blobs(remote)
    push_by_hand(remote, head, records + extra)
    problem = writer.verify().problem
    assert problem is not None and problem.seq == 5
    assert "does not end where the ledger's head says" in problem.message
    # A fresh runner, which never saw the ledger, refuses it too.
    fresh = store_for(remote, writer.cache.parent / "fresh").verify()
    assert fresh.problem is not None and "does not end where" in fresh.problem.message
    assert fresh.records == 4


@pytest.mark.parametrize("cut", [1, 2, 20])
def test_a_torn_last_line_is_refused(writer: GitStore, remote: Path, cut: int) -> None:
    head, records = blobs(remote)
    torn = records[:-cut]
    push_by_hand(remote, head, torn)
    report = store_for(remote, writer.cache.parent / "fresh").verify()
    assert report.problem is not None and report.records == 3
    # The head still names 4 records; the 4th is cut short whatever the head says of it.
    forged = json.loads(head)
    forged["size"] = len(torn)
    push_by_hand(remote, json.dumps(forged).encode(), torn)
    report = store_for(remote, writer.cache.parent / "fresh2").verify()
    assert report.problem is not None and report.records == 3
    assert "ends after record 3" in report.problem.message
    # A head naming record 3 but covering the torn bytes: cut short, not "edited".
    three = b"".join(torn.splitlines(keepends=True)[:3])
    forged = json.loads(head_of(three))
    forged["size"] = len(torn)
    push_by_hand(remote, json.dumps(forged).encode(), torn)
    report = store_for(remote, writer.cache.parent / "fresh3").verify()
    assert report.problem is not None and report.records == 3
    assert "missing or cut short" in report.problem.message


def test_a_history_rewritten_to_the_same_length_is_refused(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    # Another ledger of the same shape (two runs, four records), force-pushed in its place.
    other = tmp_path / "other.git"
    git("init", "--quiet", "--bare", str(other), cwd=tmp_path)
    forger = store_for(other, tmp_path / "forger")
    forger._queue.add([run_op("r1", "CVE-1", at=day(0))])
    forger._queue.add([run_op("r2", "CVE-1", "CVE-3", at=day(1))])
    assert forger.commit([]).stored == 2
    git("--git-dir", str(remote), "fetch", "--quiet", str(other), "+ledger:ledger")
    assert len(blobs(remote)[1].splitlines()) == 4
    problem = writer.verify().problem
    assert problem is not None and problem.seq == 4
    assert "the branch's history was rewritten" in problem.message
    # What the runner saw last is kept: a second verify still refuses.
    assert writer.verify().problem is not None


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_a_history_cut_back_and_recomputed_is_refused_by_a_runner_that_saw_more(
    writer: GitStore, remote: Path, keep: int
) -> None:
    _, records = blobs(remote)
    shorter = b"".join(records.splitlines(keepends=True)[:keep])
    push_by_hand(remote, head_of(shorter), shorter)
    problem = writer.verify().problem
    assert problem is not None and "history was rewritten" in problem.message
    assert problem.seq == 4


def test_a_history_that_only_grew_is_accepted(writer: GitStore, remote: Path) -> None:
    writer._queue.add([run_op("r3", at=day(2))])
    assert writer.commit([]).stored == 1
    report = writer.verify()
    assert report.ok and report.records >= 5
    # Edit the very first record the runner verified, keeping the length: refused too.
    _, records = blobs(remote)
    lines = records.splitlines(keepends=True)
    lines[0] = lines[0][:-1] + b" \n"
    push_by_hand(remote, head_of(b"".join(lines)), b"".join(lines))
    problem = writer.verify().problem
    assert problem is not None
