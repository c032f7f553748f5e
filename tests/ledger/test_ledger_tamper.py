"""Tamper evidence: any edit, deletion, insertion or reorder of the ledger makes
``ledger verify`` exit 1 naming the first bad record; an intact ledger exits 0."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ledger_project import Outcome, Project, cli, cli_subprocess, day, queued

from compliancegate.ledger.chain import ChainHead, link
from compliancegate.ledger.files import Head, encode_head
from compliancegate.ledger.records import Entry, RecordKind, line_hash

SCANS = [("CVE-1",), (), ("CVE-1", "CVE-2"), ("CVE-2",), ()]


@pytest.fixture
def ledger(project: Project) -> Path:
    """A file ledger with five runs that open, resolve and reopen findings."""
    for n, critical in enumerate(SCANS):
        project.scan(*critical)
        assert cli(["check", "--env", "staging"], now=day(n)).code in (0, 1)
    folder = project.root / ".compliancegate" / "ledger"
    assert verify().code == 0
    return folder


def verify(*args: str) -> Outcome:
    """``ledger verify`` in process."""
    return cli(["ledger", "verify", *args])


def lines_of(folder: Path) -> list[bytes]:
    """The record lines, each with its newline."""
    return (folder / "records.jsonl").read_bytes().splitlines(keepends=True)


def write_lines(folder: Path, lines: list[bytes]) -> None:
    (folder / "records.jsonl").write_bytes(b"".join(lines))


def bad_record(outcome: Outcome) -> int:
    """The record ``ledger verify`` names as the first bad one."""
    assert outcome.code == 1, outcome.output
    match = re.search(r"record (\d+):", outcome.stdout)
    assert match, outcome.stdout
    return int(match.group(1))


def test_an_intact_ledger_verifies(ledger: Path, project: Project) -> None:
    outcome = verify()
    assert outcome.code == 0
    count = len(lines_of(ledger))
    assert f"ok: {count} record(s) verified" in outcome.stdout
    head = json.loads((ledger / "head.json").read_bytes())
    assert head["seq"] == count and head["hash"] in outcome.stdout
    # The same from a real process, and through the config's location.
    assert cli_subprocess(["ledger", "verify"], project.root).code == 0


@pytest.mark.parametrize("which", ["first", "middle", "last"])
@pytest.mark.parametrize("field", ["at", "data", "prev"])
def test_a_flipped_byte_is_detected(ledger: Path, which: str, field: str) -> None:
    lines = lines_of(ledger)
    index = {"first": 0, "middle": len(lines) // 2, "last": len(lines) - 1}[which]
    line = bytearray(lines[index])
    # A byte inside the field's value: the line stays valid JSON, only its content changes.
    offset = line.index(f'"{field}":'.encode()) + len(field) + 5
    line[offset] ^= 0x01
    lines[index] = bytes(line)
    write_lines(ledger, lines)
    number = index + 1
    # An edited record is caught by its successor's link, or by the head for the last one;
    # a damaged prev is caught on the record itself.
    expected = {number} if field == "prev" or which == "last" else {number, number + 1}
    assert bad_record(verify()) in expected


def test_every_single_byte_flip_is_detected(ledger: Path) -> None:
    original = (ledger / "records.jsonl").read_bytes()
    step = max(1, len(original) // 97)
    for offset in range(0, len(original), step):
        damaged = bytearray(original)
        damaged[offset] ^= 0x20
        (ledger / "records.jsonl").write_bytes(bytes(damaged))
        assert verify().code == 1, offset
    (ledger / "records.jsonl").write_bytes(original)
    assert verify().code == 0


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_deleted_line_is_detected(ledger: Path, which: str) -> None:
    lines = lines_of(ledger)
    index = {"first": 0, "middle": len(lines) // 2, "last": len(lines) - 1}[which]
    del lines[index]
    write_lines(ledger, lines)
    assert bad_record(verify()) == index + 1


@pytest.mark.parametrize(("i", "j"), [(0, 1), (2, 5), (1, -1)])
def test_swapped_lines_are_detected(ledger: Path, i: int, j: int) -> None:
    lines = lines_of(ledger)
    j = j % len(lines)
    lines[i], lines[j] = lines[j], lines[i]
    write_lines(ledger, lines)
    assert bad_record(verify()) == i + 1


def test_an_inserted_copy_is_detected(ledger: Path) -> None:
    lines = lines_of(ledger)
    lines.insert(3, lines[2])
    write_lines(ledger, lines)
    assert bad_record(verify()) == 4


def _forge(ledger: Path, entry: Entry) -> tuple[bytes, ChainHead]:
    """A record correctly chained after the last one, as a forger who knows the format."""
    lines = lines_of(ledger)
    last = json.loads(lines[-1])
    size = sum(len(line) for line in lines)
    head = ChainHead(last["seq"], line_hash(lines[-1][:-1]), size)
    linked = link(head, [entry])
    return linked.data, linked.head


def test_an_appended_forged_record_is_detected(ledger: Path, state: Path) -> None:
    count = len(lines_of(ledger))
    resolved = json.loads(lines_of(ledger)[1])["data"]["finding"]
    forged, _ = _forge(
        ledger,
        Entry(
            RecordKind.RESOLVED,
            day(9),
            {"finding": resolved, "run_id": "forged", "by": None, "text": None},
        ),
    )
    with (ledger / "records.jsonl").open("ab") as handle:
        handle.write(forged)
    outcome = verify()
    assert bad_record(outcome) == count + 1
    assert "not appended by compliancegate" in outcome.stdout
    # No run appends after it; the run waits in the queue for the ledger to be restored.
    check = cli(["check", "--env", "staging"], now=day(9))
    assert check.code == 0 and "ledger-error" in check.stdout
    assert len(queued(state)) == 1 and not (ledger / "pending").exists()
    assert len(lines_of(ledger)) == count + 1


@pytest.mark.parametrize(
    "garbage",
    [b"{}\n", b"not json at all\n", b'{"seq": 99}\n', b"\n"],
    ids=["empty-object", "text", "partial-record", "blank-line"],
)
def test_appended_garbage_is_detected(ledger: Path, garbage: bytes) -> None:
    count = len(lines_of(ledger))
    with (ledger / "records.jsonl").open("ab") as handle:
        handle.write(garbage)
    assert bad_record(verify()) == count + 1


def test_a_replayed_record_is_detected(ledger: Path) -> None:
    lines = lines_of(ledger)
    write_lines(ledger, [*lines, lines[-1]])
    assert bad_record(verify()) == len(lines) + 1


def test_a_forged_record_with_a_forged_head_is_still_checked_for_sense(ledger: Path) -> None:
    # A forger who rewrites the head too defeats the hash chain (no secret is involved; the
    # git store's history and signed bundles anchor it elsewhere), but not the findings'
    # consistency: a resolution of a finding that is not open is reported.
    count = len(lines_of(ledger))
    forged, head = _forge(
        ledger,
        Entry(
            RecordKind.RESOLVED,
            day(9),
            {"finding": "0123456789abcdef", "run_id": "forged", "by": None, "text": None},
        ),
    )
    with (ledger / "records.jsonl").open("ab") as handle:
        handle.write(forged)
    (ledger / "head.json").write_bytes(encode_head(Head(head)))
    outcome = verify()
    assert bad_record(outcome) == count + 1
    assert "never opened" in outcome.stdout


def test_an_edited_head_is_detected(ledger: Path) -> None:
    head = json.loads((ledger / "head.json").read_bytes())
    head["hash"] = "f" * 64
    (ledger / "head.json").write_text(json.dumps(head))
    assert bad_record(verify()) == head["seq"]


def test_a_deleted_head_is_detected(ledger: Path) -> None:
    (ledger / "head.json").unlink()
    outcome = verify()
    assert outcome.code == 1 and "head.json is missing" in outcome.stdout


def test_a_truncated_ledger_is_detected(ledger: Path) -> None:
    data = (ledger / "records.jsonl").read_bytes()
    (ledger / "records.jsonl").write_bytes(data[: len(data) // 2])
    assert verify().code == 1


def test_verify_without_a_ledger_is_exit_2(project: Project) -> None:
    outcome = verify()
    assert outcome.code == 2 and "no ledger" in outcome.stderr
