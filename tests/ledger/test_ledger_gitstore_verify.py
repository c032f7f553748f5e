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

from compliancegate.ledger.chain import GENESIS, TAMPER_HINT, ChainHead, link
from compliancegate.ledger.files import EMPTY_HEAD, HEAD_FILE, RECORDS_FILE, Head, encode_head
from compliancegate.ledger.gitstore import PIN_VARIABLE, GitStore, pinned_head
from compliancegate.ledger.interface import ChainError, LedgerError, LedgerRewritten
from compliancegate.ledger.records import Entry, RecordKind, line_hash
from compliancegate.ledger.signed import parse_expected
from compliancegate.signing.keys import generate


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


# --------------------------------------------------------------- reading the branch
# ``_read``, ``_load`` and ``_check_known``: what the store reads from a commit, where its
# errors point, and what the runner's memory of the last verified head does.


def _object(remote: Path, kind: str, data: bytes) -> str:
    args = ["git", "--git-dir", str(remote)]
    args += ["mktree"] if kind == "tree" else ["hash-object", "-w", "--stdin"]
    done = subprocess.run(args, input=data, capture_output=True, check=True)
    return done.stdout.decode().strip()


def push_entries(remote: Path, entries: dict[str, bytes | None]) -> None:
    """A commit on the branch whose tree holds ``entries``: a file per name, or an empty
    folder holding one file where the value is None."""
    rows = []
    for name, data in sorted(entries.items()):
        if data is None:
            inner = _object(remote, "blob", b"x")
            sub = _object(remote, "tree", f"100644 blob {inner}\tx\n".encode())
            rows.append(f"040000 tree {sub}\t{name}\n")
        else:
            rows.append(f"100644 blob {_object(remote, 'blob', data)}\t{name}\n")
    tree = _object(remote, "tree", "".join(rows).encode())
    commit = git("--git-dir", str(remote), "commit-tree", tree, "-m", "by hand").strip()
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", commit)


def known_file(store: GitStore) -> Path:
    return store.cache / "known-head.json"


@pytest.mark.parametrize(
    "layout",
    ["records only", "head only", "head is a folder", "records is a folder", "empty tree"],
)
def test_a_branch_that_does_not_hold_a_ledger_is_refused_by_name(
    writer: GitStore, remote: Path, tmp_path: Path, layout: str
) -> None:
    head, records = blobs(remote)
    entries: dict[str, bytes | None] = {
        "records only": {RECORDS_FILE: records},
        "head only": {HEAD_FILE: head},
        "head is a folder": {HEAD_FILE: None, RECORDS_FILE: records},
        "records is a folder": {HEAD_FILE: head, RECORDS_FILE: None},
        "empty tree": {"README": b"not a ledger\n"},
    }[layout]
    push_entries(remote, entries)
    for store in (writer, store_for(remote, tmp_path / "fresh")):
        with pytest.raises(LedgerError) as caught:
            store.verify()
        assert not isinstance(caught.value, ChainError)
        assert caught.value.message == (
            f"the branch does not hold a ledger ({HEAD_FILE} and {RECORDS_FILE})"
        )
        assert caught.value.subject == store.location
        with pytest.raises(LedgerError, match="does not hold a ledger"):
            store.snapshot(day(3))


@pytest.mark.parametrize("records", [1, 2, 3, 4])
def test_both_files_are_read_whole_whatever_their_sizes(
    writer: GitStore, remote: Path, tmp_path: Path, records: int
) -> None:
    # head.json and records.jsonl come back from one ``cat-file --batch``: each must be cut
    # at its own size, so a prefix of the ledger of any length reads back exactly.
    _, data = blobs(remote)
    prefix = b"".join(data.splitlines(keepends=True)[:records])
    push_by_hand(remote, head_of(prefix), prefix, parent=False)
    fresh = store_for(remote, tmp_path / "fresh")
    report = fresh.verify()
    assert report.ok, report.problem
    assert report.records == records
    assert report.head == line_hash(prefix.splitlines()[-1])
    assert fresh._read(git("--git-dir", str(remote), "rev-parse", "ledger").strip()) == (
        Head(ChainHead(records, line_hash(prefix.splitlines()[-1]), len(prefix))),
        prefix,
    )


def test_a_branch_that_does_not_exist_reads_as_an_empty_ledger(
    remote: Path, tmp_path: Path
) -> None:
    store = store_for(remote, tmp_path / "fresh")
    assert store._read(None) == (EMPTY_HEAD, b"")
    report = store.verify()
    assert report.ok and report.records == 0
    assert "the branch has no records yet" in report.notes
    # Nothing was verified, so nothing is remembered.
    assert not known_file(store).exists()


def test_a_malformed_head_names_the_branch_and_its_file(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    _, records = blobs(remote)
    push_by_hand(remote, b'{"v": 2}', records)
    problem = store_for(remote, tmp_path / "fresh").verify().problem
    assert problem is not None and problem.seq == 0
    assert problem.message.startswith(f"{HEAD_FILE} is malformed")
    assert problem.file == f"{writer.location}:{HEAD_FILE}"


def test_bytes_after_the_head_point_at_the_records_file_and_the_next_record(
    writer: GitStore, remote: Path
) -> None:
    head, records = blobs(remote)
    push_by_hand(remote, head, records + b"x")
    problem = writer.verify().problem
    assert problem is not None
    assert problem.message == "the records file does not end where the ledger's head says"
    assert problem.seq == 5
    assert problem.file == f"{writer.location}:{RECORDS_FILE}"
    assert problem.hint == TAMPER_HINT


def test_a_damaged_record_points_at_the_records_file_of_the_branch(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    _, records = blobs(remote)
    lines = records.splitlines(keepends=True)
    lines[1] = b"x" + lines[1][1:]
    edited = b"".join(lines)
    push_by_hand(remote, head_of(edited), edited)
    problem = store_for(remote, tmp_path / "fresh").verify().problem
    assert problem is not None and problem.seq == 2
    assert problem.file == f"{writer.location}:{RECORDS_FILE}"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[4]",
        b"{}",
        b'{"seq": 4}',
        b'{"hash": "00"}',
        b'{"seq": "four", "hash": "00"}',
        b'{"seq": null, "hash": "00"}',
        b'{"seq": 0, "hash": "00"}',
    ],
    ids=["empty", "text", "list", "no-keys", "no-hash", "no-seq", "word", "null", "zero"],
)
def test_a_runner_memory_it_cannot_read_is_no_memory(
    writer: GitStore, remote: Path, content: bytes
) -> None:
    # The file is the runner's own, outside the gated tree: unreadable, it means what a
    # fresh runner knows (nothing), and the next verify replaces it with what it saw.
    known_file(writer).write_bytes(content)
    report = writer.verify()
    assert report.ok, report.problem
    assert json.loads(known_file(writer).read_text()) == {"seq": 4, "hash": report.head}


def test_a_runner_memory_as_a_folder_is_no_memory(writer: GitStore, remote: Path) -> None:
    known = known_file(writer)
    known.unlink()
    known.mkdir()
    assert writer._check_known(*blobs_of(writer, remote), name="n") is None


def blobs_of(store: GitStore, remote: Path) -> tuple[Head, bytes]:
    return store._read(git("--git-dir", str(remote), "rev-parse", "ledger").strip())


def test_the_runner_remembers_the_last_record_it_verified(writer: GitStore, remote: Path) -> None:
    _, records = blobs(remote)
    last = records.splitlines()[-1]
    assert json.loads(known_file(writer).read_text()) == {"seq": 4, "hash": line_hash(last)}
    # At its own head and at every earlier record it remembers, the ledger is accepted.
    head, records = blobs_of(writer, remote)
    for seq, line in enumerate(records.splitlines(), start=1):
        known_file(writer).write_text(json.dumps({"seq": seq, "hash": line_hash(line)}))
        writer._check_known(head, records, "n")
    # One record further than the ledger holds, or any record with another hash, is not.
    known_file(writer).write_text(json.dumps({"seq": 5, "hash": line_hash(last)}))
    with pytest.raises(LedgerRewritten):
        writer._check_known(head, records, "n")
    for seq in (1, 2, 3, 4):
        known_file(writer).write_text(json.dumps({"seq": seq, "hash": "0" * 64}))
        with pytest.raises(LedgerRewritten) as caught:
            writer._check_known(head, records, "n")
        assert caught.value.seq == seq


def rewritten(store: GitStore) -> ChainError:
    problem = store.verify().problem
    assert isinstance(problem, LedgerRewritten)
    assert problem.file == f"{store.location}:{RECORDS_FILE}"
    assert problem.hint == f"if the rewrite was deliberate, delete {known_file(store)}"
    return problem


def test_a_rewrite_says_what_the_runner_saw_and_what_the_branch_holds(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    saw = "this runner verified record 4 before, and the remote no longer has it unchanged"
    _, records = blobs(remote)
    expected = line_hash(records.splitlines()[3])
    # Another ledger of the same length force-pushed in its place.
    other = tmp_path / "other.git"
    git("init", "--quiet", "--bare", str(other), cwd=tmp_path)
    forger = store_for(other, tmp_path / "forger")
    forger._queue.add([run_op("r1", "CVE-1", at=day(0))])
    forger._queue.add([run_op("r2", "CVE-1", "CVE-3", at=day(1))])
    assert forger.commit([]).stored == 2
    git("--git-dir", str(remote), "fetch", "--quiet", str(other), "+ledger:ledger")
    forged = blobs(remote)[1].splitlines()
    problem = rewritten(writer)
    assert problem.seq == 4
    assert problem.message == (
        f"{saw}: the branch's history was rewritten (expected record 4 to hash to "
        f"{expected}, found {line_hash(forged[3])})"
    )
    # Cut back to two records.
    two = b"".join(records.splitlines(keepends=True)[:2])
    push_by_hand(remote, head_of(two), two, parent=False)
    problem = rewritten(writer)
    assert problem.seq == 4
    assert problem.message == (
        f"{saw}: the branch's history was rewritten (expected record 4 ({expected}), "
        "found the ledger ending at record 2)"
    )
    # The branch deleted.
    git("--git-dir", str(remote), "update-ref", "-d", "refs/heads/ledger")
    problem = rewritten(writer)
    assert problem.seq == 4
    assert problem.message == (
        f"{saw}: the branch's history was rewritten (expected record 4 ({expected}), "
        "found no records: the branch was deleted)"
    )


def pin(store: GitStore, remote: Path, value: str, root: Path) -> GitStore:
    return store_for(remote, root, environ={PIN_VARIABLE: value})


def test_a_pinned_head_still_in_the_ledger_is_accepted(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    _, records = blobs(remote)
    for seq, line in enumerate(records.splitlines(), start=1):
        fresh = pin(writer, remote, f"{seq}:{line_hash(line)}", tmp_path / f"pin{seq}")
        report = fresh.verify()
        assert report.ok, report.problem


def test_a_pinned_head_no_longer_in_the_ledger_is_refused_on_a_fresh_runner(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    _, records = blobs(remote)
    lines = records.splitlines()
    hint = f"the branch was rewritten; restore it, or correct {PIN_VARIABLE}"
    start = f"the pinned head ({PIN_VARIABLE}) is not in the ledger: "
    name = f"{writer.location}:{RECORDS_FILE}"
    cases = {
        f"5:{line_hash(lines[3])}": (
            5,
            f"expected record 5 ({line_hash(lines[3])}), found the ledger ending at record 4",
        ),
        f"2:{'0' * 64}": (
            2,
            f"expected record 2 to hash to {'0' * 64}, found {line_hash(lines[1])}",
        ),
    }
    for index, (value, (seq, found)) in enumerate(cases.items()):
        problem = pin(writer, remote, value, tmp_path / f"p{index}").verify().problem
        assert isinstance(problem, LedgerRewritten)
        assert (problem.message, problem.seq, problem.file, problem.hint) == (
            start + found,
            seq,
            name,
            hint,
        )
    git("--git-dir", str(remote), "update-ref", "-d", "refs/heads/ledger")
    value = f"1:{line_hash(lines[0])}"
    problem = pin(writer, remote, value, tmp_path / "deleted").verify().problem
    assert isinstance(problem, LedgerRewritten) and problem.seq == 1
    assert problem.message == (
        f"{start}expected record 1 ({line_hash(lines[0])}), found no records: "
        "the branch was deleted"
    )


# --------------------------------------------------------------- the history walk
# ``verify_signed`` walks every commit of the branch, reading whole records files a chunk of
# commits at a time: rewrites are placed before, at and after each chunk boundary.


def build_history(remote: Path, files: list[tuple[bytes, bytes]]) -> list[str]:
    """One commit per ``(head, records)`` pair, each on the one before, on the branch; the
    commits, oldest first."""
    blobs = []
    for head, records in files:
        blobs += [_object(remote, "blob", head), _object(remote, "blob", records)]
    trees = "".join(
        f"100644 blob {blobs[i]}\t{HEAD_FILE}\n100644 blob {blobs[i + 1]}\t{RECORDS_FILE}\n\n"
        for i in range(0, len(blobs), 2)
    )
    done = subprocess.run(
        ["git", "--git-dir", str(remote), "mktree", "--batch"],
        input=trees.encode(),
        capture_output=True,
        check=True,
    )
    commits: list[str] = []
    for tree in done.stdout.decode().split():
        parent = ["-p", commits[-1]] if commits else []
        commits.append(
            git("--git-dir", str(remote), "commit-tree", tree, *parent, "-m", "run").strip()
        )
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", commits[-1])
    return commits


def chain(runs: list[str]) -> list[bytes]:
    """The record lines (with their newlines) of one run per id."""
    entries = [
        Entry(RecordKind.RUN, day(0), {**RUN_DATA, "run_id": run, "op": f"op-{run}"})
        for run in runs
    ]
    return link(ChainHead(0, GENESIS, 0), entries).data.splitlines(keepends=True)


RUN_DATA = {
    "op": "o",
    "environment": None,
    "commit": None,
    "branch": None,
    "pipeline": None,
    "decision": "compliant",
    "fail_on": "low",
    "tool_version": "t",
    "policies": 0,
    "evaluated": 0,
    "violations": 0,
    "changes": {},
}


def prefixes(lines: list[bytes], first: int, last: int) -> list[tuple[bytes, bytes]]:
    return [(head_of(b"".join(lines[:n])), b"".join(lines[:n])) for n in range(first, last + 1)]


def walked(remote: Path, root: Path) -> ChainError | None:
    store = store_for(remote, root)
    assert store.verify().ok
    return store.verify_signed(())


@pytest.mark.parametrize("length", [1, 2, 16, 17, 33])
def test_a_history_that_only_appends_walks_clean_at_every_length(
    remote: Path, tmp_path: Path, length: int
) -> None:
    lines = chain([f"r{n}" for n in range(length)])
    build_history(remote, prefixes(lines, 1, length))
    assert walked(remote, tmp_path / "fresh") is None


@pytest.mark.parametrize("at", [2, 16, 17, 33])
@pytest.mark.parametrize("record", [1, "last"])
def test_the_walk_names_the_commit_that_rewrote_the_records(
    remote: Path, tmp_path: Path, at: int, record: int | str
) -> None:
    # Commit ``at`` (from 1) rewrites one of its parent's records, recomputing every hash
    # after it, and the history goes on from the rewritten chain.
    length = at + 2
    seq = at - 1 if record == "last" else 1
    runs = [f"r{n}" for n in range(length)]
    old = chain(runs)
    runs[seq - 1] = "forged"
    new = chain(runs)
    commits = build_history(remote, prefixes(old, 1, at - 1) + prefixes(new, at, length))
    problem = walked(remote, tmp_path / "fresh")
    assert problem is not None
    assert problem.message == (
        f"commit {commits[at - 1][:12]} does not only append to its parent's records: it "
        f"rewrites or removes record {seq} (its parent {commits[at - 2][:12]} has {at - 1} "
        f"records, it has {at})"
    )
    assert (problem.seq, problem.file, problem.hint) == (
        seq,
        f"git:{remote}#ledger:{RECORDS_FILE}",
        TAMPER_HINT,
    )


def ledger_history(remote: Path, length: int) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
    lines = chain([f"r{n}" for n in range(length)])
    return lines, prefixes(lines, 1, length)


@pytest.mark.parametrize("head", [None, b"{}", b'{"v": 1}'], ids=["missing", "empty", "partial"])
@pytest.mark.parametrize("at", [1, 3])
def test_a_commit_without_a_valid_head_is_named(
    remote: Path, tmp_path: Path, head: bytes | None, at: int
) -> None:
    _, files = ledger_history(remote, 4)
    commits = build_history(remote, files)
    # Commit ``at`` replaced by one whose tree has no head.json, or a malformed one.
    records = files[at - 1][1]
    entries: dict[str, bytes | None] = {RECORDS_FILE: records}
    if head is not None:
        entries[HEAD_FILE] = head
    rows = "".join(
        f"100644 blob {_object(remote, 'blob', data or b'')}\t{name}\n"
        for name, data in sorted(entries.items())
    )
    tree = _object(remote, "tree", rows.encode())
    parent = ["-p", commits[at - 2]] if at > 1 else []
    bad = git("--git-dir", str(remote), "commit-tree", tree, *parent, "-m", "x").strip()
    rest = files[at:]
    chained = [bad]
    for head_bytes, data in rest:
        sub = _object(
            remote,
            "tree",
            f"100644 blob {_object(remote, 'blob', head_bytes)}\t{HEAD_FILE}\n"
            f"100644 blob {_object(remote, 'blob', data)}\t{RECORDS_FILE}\n".encode(),
        )
        chained.append(
            git("--git-dir", str(remote), "commit-tree", sub, "-p", chained[-1], "-m", "r").strip()
        )
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", chained[-1])
    problem = walked(remote, tmp_path / "fresh")
    assert problem is not None
    assert problem.message == f"commit {bad[:12]} holds no valid {HEAD_FILE}"
    assert (problem.seq, problem.file, problem.hint) == (
        0,
        f"git:{remote}#ledger:{RECORDS_FILE}",
        TAMPER_HINT,
    )


@pytest.mark.parametrize(
    ("lie", "seq"),
    [("other hash", 2), ("further", 9), ("backwards", 1)],
)
def test_a_head_that_names_a_record_the_branch_does_not_hold_is_named(
    remote: Path, tmp_path: Path, lie: str, seq: int
) -> None:
    # Every commit only appends to its parent's records, but commit 3's head.json says
    # something else: a record with another hash, one past the end, or an earlier one.
    lines, files = ledger_history(remote, 4)
    size = len(b"".join(lines[:seq])) if seq <= len(lines) else 999
    digest = "0" * 64 if lie != "backwards" else line_hash(lines[0][:-1])
    if lie == "further":
        digest = "1" * 64
    files[2] = (encode_head(Head(ChainHead(seq, digest, size))), files[2][1])
    commits = build_history(remote, files)
    problem = walked(remote, tmp_path / "fresh")
    assert problem is not None
    assert problem.message == (
        f"commit {commits[2][:12]} ended the ledger at record {seq} ({digest}), which the "
        "branch no longer holds unchanged: a later commit rewrote or removed it"
    )
    assert (problem.seq, problem.file, problem.hint) == (
        seq,
        f"git:{remote}#ledger:{RECORDS_FILE}",
        TAMPER_HINT,
    )


def test_a_deleted_branch_fails_the_walk_only_when_something_was_expected(
    remote: Path, tmp_path: Path
) -> None:
    lines, files = ledger_history(remote, 2)
    build_history(remote, files)
    store = store_for(remote, tmp_path / "fresh")
    assert store.verify().ok
    git("--git-dir", str(remote), "update-ref", "-d", "refs/heads/ledger")
    store.verify()
    assert store.verify_signed(()) is None
    message = (
        "the branch ledger does not exist: it was deleted (or never held a ledger), so no "
        "signed head can be checked"
    )
    expect = ChainHead(2, line_hash(lines[1][:-1]), 0)
    key, _ = generate(tmp_path / "k")
    trusted = [key.public]
    for keys, head, seq in (((), expect, 2), (trusted, None, 0), (trusted, expect, 2)):
        problem = store.verify_signed(keys, head)
        assert isinstance(problem, LedgerRewritten)
        assert (problem.message, problem.seq, problem.file, problem.hint) == (
            message,
            seq,
            store.location,
            "restore the branch from a clone that still has it",
        )


def test_a_runner_refuses_to_sign_on_top_of_another_key_s_head(
    remote: Path, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    mine, _ = generate(keys / "mine.key")
    theirs, _ = generate(keys / "theirs.key")
    variable = "COMPLIANCEGATE_SIGNING_KEY_FILE"
    signer = store_for(remote, tmp_path / "theirs", environ={variable: str(keys / "theirs.key")})
    assert signer.commit([run_op("r1", at=day(0))]).stored == 1
    store = store_for(remote, tmp_path / "mine", environ={variable: str(keys / "mine.key")})
    with pytest.raises(LedgerRewritten) as caught:
        store.commit([run_op("r2", at=day(1))])
    problem = caught.value
    assert problem.message == (
        f"signed head 1: the last signed head (record 1) is signed by key {theirs.key_id}, not "
        f"by this runner's key {mine.key_id}: re-signed by someone else, or the key changed"
    )
    assert (problem.seq, problem.file, problem.hint) == (
        0,
        f"{store.location}:heads.jsonl",
        TAMPER_HINT,
    )
    assert len(blobs(remote)[1].splitlines()) == 1  # nothing was appended


def test_records_added_without_the_key_between_signed_heads_are_named(
    remote: Path, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    key, _ = generate(keys / "ledger.key")
    environ = {"COMPLIANCEGATE_SIGNING_KEY_FILE": str(keys / "ledger.key")}
    # An unsigned run first (before the key existed), then a signed one: accepted.
    assert store_for(remote, tmp_path / "plain").commit([run_op("r1", at=day(0))]).stored == 1
    signer = store_for(remote, tmp_path / "signer", environ=environ)
    assert signer.commit([run_op("r2", at=day(1))]).stored == 1
    fresh = store_for(remote, tmp_path / "fresh")
    assert fresh.verify().ok
    assert fresh.verify_signed([key.public]) is None
    # An unsigned run after a signed head, then a signed one on top of it.
    assert store_for(remote, tmp_path / "plain").commit([run_op("r3", at=day(2))]).stored == 1
    unsigned = git("--git-dir", str(remote), "rev-parse", "ledger").strip()
    assert signer.commit([run_op("r4", at=day(3))]).stored == 1
    fresh = store_for(remote, tmp_path / "fresh2")
    assert fresh.verify().ok
    problem = fresh.verify_signed([key.public])
    assert problem is not None
    assert problem.message == (
        f"commit {unsigned[:12]} ends the ledger at record 3, but no signed head names it: "
        "records were added without the signing key"
    )
    assert (problem.seq, problem.file, problem.hint) == (
        3,
        f"{fresh.location}:{RECORDS_FILE}",
        "records appended by someone without the key, or unsigned runs",
    )
    # Without trusted keys, nothing is asked of the signatures.
    assert fresh.verify_signed(()) is None


def test_the_first_commit_off_the_line_is_named_before_the_merge_that_joins_it(
    remote: Path, tmp_path: Path
) -> None:
    _, files = ledger_history(remote, 4)
    line = build_history(remote, files[:3])  # c1 - c2 - c3
    tree = git("--git-dir", str(remote), "rev-parse", f"{line[2]}^{{tree}}").strip()
    side = git("--git-dir", str(remote), "commit-tree", tree, "-p", line[1], "-m", "s").strip()
    merge = git(
        "--git-dir", str(remote), "commit-tree", tree, "-p", line[2], "-p", side, "-m", "m"
    ).strip()
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", merge)
    problem = walked(remote, tmp_path / "fresh")
    assert problem is not None
    named = problem.message.split()[1]
    # rev-list puts c3 and the side commit after c2 in either order: the second of them
    # does not follow the one before it, and is named rather than the merge.
    assert named in (line[2][:12], side[:12])
    assert problem.message == (
        f"commit {named} is a merge or does not follow the commit before it: a ledger branch "
        "is one line of appends"
    )
    assert (problem.seq, problem.file, problem.hint) == (
        0,
        f"git:{remote}#ledger:{RECORDS_FILE}",
        TAMPER_HINT,
    )


def test_a_malformed_heads_file_stops_a_signing_runner_and_names_the_file(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    head, records = blobs(remote)
    push_entries(remote, {HEAD_FILE: head, RECORDS_FILE: records, "heads.jsonl": b"garbage\n"})
    keys = tmp_path / "keys"
    keys.mkdir()
    generate(keys / "mine.key")
    store = store_for(
        remote,
        tmp_path / "mine",
        environ={"COMPLIANCEGATE_SIGNING_KEY_FILE": str(keys / "mine.key")},
    )
    with pytest.raises(ChainError) as caught:
        store.commit([run_op("r3", at=day(2))])
    assert caught.value.file == f"{store.location}:heads.jsonl"
    assert blobs(remote)[1] == records  # nothing was appended


def test_a_commit_without_a_records_file_holds_no_records(remote: Path, tmp_path: Path) -> None:
    # The branch starts with an empty ledger whose commit has head.json only; the walk reads
    # its missing records file as no records, and names the commit that rewrote record 1.
    empty = _object(
        remote,
        "tree",
        f"100644 blob {_object(remote, 'blob', encode_head(EMPTY_HEAD))}\t{HEAD_FILE}\n".encode(),
    )
    first = git("--git-dir", str(remote), "commit-tree", empty, "-m", "empty").strip()
    old = chain(["r0", "r1"])
    new = chain(["forged", "r1"])
    files = [*prefixes(old, 1, 1), *prefixes(new, 2, 2)]
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", first)
    rest = []
    parent = first
    for head, records in files:
        tree = _object(
            remote,
            "tree",
            f"100644 blob {_object(remote, 'blob', head)}\t{HEAD_FILE}\n"
            f"100644 blob {_object(remote, 'blob', records)}\t{RECORDS_FILE}\n".encode(),
        )
        parent = git("--git-dir", str(remote), "commit-tree", tree, "-p", parent, "-m", "r").strip()
        rest.append(parent)
    git("--git-dir", str(remote), "update-ref", "refs/heads/ledger", parent)
    problem = walked(remote, tmp_path / "fresh")
    assert problem is not None
    assert problem.message == (
        f"commit {rest[1][:12]} does not only append to its parent's records: it rewrites or "
        f"removes record 1 (its parent {rest[0][:12]} has 1 records, it has 2)"
    )


def test_a_branch_that_starts_with_an_empty_ledger_walks_clean(
    remote: Path, tmp_path: Path
) -> None:
    _, files = ledger_history(remote, 2)
    build_history(remote, [(encode_head(EMPTY_HEAD), b""), *files])
    assert walked(remote, tmp_path / "fresh") is None


def test_a_malformed_heads_file_at_the_tip_is_named(
    writer: GitStore, remote: Path, tmp_path: Path
) -> None:
    head, records = blobs(remote)
    push_entries(remote, {HEAD_FILE: head, RECORDS_FILE: records, "heads.jsonl": b"garbage\n"})
    problem = walked(remote, tmp_path / "fresh")
    assert problem is not None
    assert problem.file == f"{writer.location}:heads.jsonl"


def test_a_commit_that_leaves_the_records_as_they_were_walks_clean(
    remote: Path, tmp_path: Path
) -> None:
    # Appending nothing is appending: a commit that repeats its parent's ledger (another
    # file changed beside it, or none) is part of a single line of appends.
    _, files = ledger_history(remote, 2)
    build_history(remote, [files[0], files[0], files[1], files[1]])
    assert walked(remote, tmp_path / "fresh") is None


def test_the_walk_names_the_file_of_an_expected_head_or_a_signed_head_it_refuses(
    remote: Path, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    trusted, _ = generate(keys / "trusted.key")
    generate(keys / "other.key")
    environ = {"COMPLIANCEGATE_SIGNING_KEY_FILE": str(keys / "other.key")}
    assert store_for(remote, tmp_path / "w", environ=environ).commit([run_op("r1")]).stored == 1
    fresh = store_for(remote, tmp_path / "fresh")
    assert fresh.verify().ok
    assert fresh.verify_signed(()) is None
    # An expected head the ledger does not hold: the records file is named.
    problem = fresh.verify_signed((), ChainHead(1, "0" * 64, 0))
    assert problem is not None and "no longer a prefix" in problem.message
    assert problem.file == f"{fresh.location}:{RECORDS_FILE}"
    # A head signed by a key that is not trusted: the signed heads file is named.
    problem = fresh.verify_signed([trusted.public])
    assert problem is not None and "not a trusted key" in problem.message
    assert problem.file == f"{fresh.location}:heads.jsonl"


@pytest.mark.parametrize("value", ["5", "x:abc", "0:" + "0" * 64, "3:" + "g" * 64])
def test_a_malformed_pin_says_why_names_the_variable_and_how_to_fix_it(value: str) -> None:
    with pytest.raises(ValueError) as why:
        parse_expected(value)
    with pytest.raises(LedgerError) as caught:
        pinned_head({PIN_VARIABLE: value})
    error = caught.value
    assert (error.message, error.subject, error.hint) == (
        str(why.value),
        PIN_VARIABLE,
        "copy SEQ:HASH from ledger verify",
    )
    assert str(why.value)  # the reason is never empty
    assert pinned_head({}) is None and pinned_head({PIN_VARIABLE: ""}) is None


def test_contents_are_the_records_the_head_covers_and_the_signed_heads_as_last_fetched(
    remote: Path, tmp_path: Path
) -> None:
    # What a bundle of a git ledger holds (``GitStore.contents``): the local copy as the last
    # fetch left it, its records cut at the head, its signed heads whole.
    from compliancegate.ledger.interface import LedgerContents

    keys = tmp_path / "keys"
    keys.mkdir()
    generate(keys / "ledger.key")
    environ = {"COMPLIANCEGATE_SIGNING_KEY_FILE": str(keys / "ledger.key")}
    fresh = store_for(remote, tmp_path / "fresh")
    assert fresh.contents() == LedgerContents(b"", b"")
    signer = store_for(remote, tmp_path / "signer", environ=environ)
    assert signer.commit([run_op("r1", "CVE-1", at=day(0))]).stored == 1
    assert signer.commit([run_op("r2", at=day(1))]).stored == 1
    head, records = blobs(remote)
    heads = git("--git-dir", str(remote), "show", "ledger:heads.jsonl").encode()
    assert len(heads.splitlines()) == 2 and len(records.splitlines()) == 4
    # Not fetched yet: the fresh runner's copy is still empty.
    assert fresh.contents() == LedgerContents(b"", b"")
    assert fresh.verify().ok
    assert fresh.contents() == LedgerContents(records, heads)
    assert signer.contents() == LedgerContents(records, heads)
    # Bytes past the head (refused by verify, which still fetched them) are left out.
    push_entries(remote, {HEAD_FILE: head, "heads.jsonl": heads, RECORDS_FILE: records + b"{}\n"})
    assert not fresh.verify().ok
    assert fresh.contents() == LedgerContents(records, heads)
    # An unsigned ledger has no signed heads.
    plain = tmp_path / "plain.git"
    git("init", "--quiet", "--bare", str(plain), cwd=tmp_path)
    unsigned = store_for(plain, tmp_path / "unsigned")
    assert unsigned.commit([run_op("r1", at=day(0))]).stored == 1
    assert unsigned.contents() == LedgerContents(blobs(plain)[1], b"")
    assert unsigned.commit([run_op("r2", at=day(1))]).stored == 1
    assert unsigned.contents() == LedgerContents(blobs(plain)[1], b"")
    tree = git("--git-dir", str(plain), "ls-tree", "--name-only", "ledger").split()
    assert tree == [HEAD_FILE, RECORDS_FILE]
