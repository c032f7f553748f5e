"""The hash chain and the record format, checked directly (``chain.py``, ``records.py``).

Written to kill mutants (docs/mutation-testing.md, "Ledger: chain, records, state, clocks,
git store"): each test names the class of wrong code it stops, and covers its neighbours
(every kind, every field, several sizes) so that the next member of the class fails too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from typing import Any

import pytest
from ledger_project import day

from compliancegate.ledger.chain import EMPTY, GENESIS, TAMPER_HINT, ChainHead, ChainWalk, link
from compliancegate.ledger.interface import ChainError
from compliancegate.ledger.records import (
    _FIELDS,
    Entry,
    RecordFormatError,
    RecordKind,
    canonical,
    decode,
    encode,
    format_time,
    line_hash,
    parse_time,
)


def _value(types: frozenset[type]) -> Any:
    """A value of the first JSON type of ``types`` (None only when nothing else fits)."""
    for kind, value in ((str, "x"), (int, 1), (bool, True), (list, []), (dict, {})):
        if kind in types:
            return value
    return None


def _wrong(types: frozenset[type]) -> list[Any]:
    """Values of every JSON type that ``types`` does not allow (a bool is not an int)."""
    candidates: list[Any] = ["x", 1, True, 1.5, [], {}, None]
    return [v for v in candidates if type(v) not in types]


def data_of(kind: RecordKind) -> dict[str, Any]:
    """Well-formed ``data`` of a ``kind`` record."""
    return {key: _value(types) for key, types in _FIELDS[kind].items()}


def envelope(
    seq: int = 1, prev: str = GENESIS, kind: RecordKind = RecordKind.RUN
) -> dict[str, Any]:
    return {
        "v": 1,
        "seq": seq,
        "prev": prev,
        "kind": kind.value,
        "at": "2026-11-21T12:00:00Z",
        "data": data_of(kind),
    }


def run_entry(n: int) -> Entry:
    data = data_of(RecordKind.RUN)
    data["run_id"] = f"run-{n}"
    return Entry(RecordKind.RUN, day(n), data)


def chain_lines(count: int) -> list[bytes]:
    """``count`` linked records, each line with its newline."""
    linked = link(EMPTY, [run_entry(n) for n in range(count)])
    return linked.data.splitlines(keepends=True)


def walk(lines: list[bytes]) -> tuple[list[int], ChainWalk]:
    chain = ChainWalk(lines, "records.jsonl")
    return [r.seq for r in chain], chain


# ---------------------------------------------------------------- records


@pytest.mark.parametrize("kind", list(RecordKind))
def test_every_kind_round_trips_with_the_hash_of_its_exact_bytes(kind: RecordKind) -> None:
    entry = Entry(kind, day(3), data_of(kind))
    line = encode(4, "a" * 64, entry)
    record = decode(line)
    assert (record.seq, record.prev, record.kind, record.at) == (4, "a" * 64, kind, day(3))
    assert record.data == entry.data
    assert record.hash == hashlib.sha256(line).hexdigest() == line_hash(line)
    assert json.loads(line) == {
        "v": 1,
        "seq": 4,
        "prev": "a" * 64,
        "kind": kind.value,
        "at": format_time(day(3)),
        "data": entry.data,
    }


def test_the_canonical_form_is_sorted_compact_ascii_and_refuses_nan() -> None:
    assert canonical({"b": 1, "a": ["é", 2]}) == b'{"a":["\\u00e9",2],"b":1}'
    with pytest.raises(ValueError):
        canonical({"a": float("nan")})


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles"])
def test_times_are_written_in_utc_whatever_the_runner_s_time_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A runner's local zone never leaks into a record: the same instant, the same bytes.
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        east = dt.timezone(dt.timedelta(hours=9))
        moment = dt.datetime(2026, 11, 22, 8, 30, tzinfo=east)
        assert format_time(moment) == "2026-11-21T23:30:00Z"
        assert format_time(moment.astimezone(dt.UTC)) == "2026-11-21T23:30:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_times_are_utc_with_a_z_whatever_zone_they_come_in() -> None:
    east = dt.timezone(dt.timedelta(hours=9))
    moment = dt.datetime(2026, 11, 22, 8, 30, tzinfo=east)
    assert format_time(moment) == "2026-11-21T23:30:00Z"
    assert format_time(dt.datetime(2026, 11, 21, 23, 30)) == "2026-11-21T23:30:00Z"
    assert parse_time("2026-11-21T23:30:00Z") == moment
    assert parse_time("2026-11-21T23:30:00Z").tzinfo is dt.UTC
    for bad in ("2026-11-21T23:30:00", "2026-11-21T23:30:00+00:00", "Z", "yesterdayZ"):
        with pytest.raises(ValueError):
            parse_time(bad)


@pytest.mark.parametrize("extra", ["x", "hash", "V", "data2"])
def test_an_extra_envelope_key_is_malformed(extra: str) -> None:
    raw = envelope()
    raw[extra] = 1
    with pytest.raises(RecordFormatError, match="unexpected envelope keys"):
        decode(canonical(raw))


@pytest.mark.parametrize("missing", ["seq", "prev", "kind", "at", "data"])
def test_a_missing_envelope_key_is_malformed(missing: str) -> None:
    raw = envelope()
    del raw[missing]
    with pytest.raises(RecordFormatError, match="unexpected envelope keys"):
        decode(canonical(raw))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("v", 2, "unknown record version 2"),
        ("v", 0, "unknown record version 0"),
        ("v", None, "unknown record version None"),
        ("seq", 0, "seq 0 is not a positive integer"),
        ("seq", -1, "seq -1 is not a positive integer"),
        ("seq", True, "seq True is not a positive integer"),
        ("seq", "1", "seq '1' is not a positive integer"),
        ("seq", 1.0, "seq 1.0 is not a positive integer"),
        ("prev", "0" * 63, "prev is not a SHA-256 hex digest"),
        ("prev", "0" * 65, "prev is not a SHA-256 hex digest"),
        ("prev", 0, "prev is not a SHA-256 hex digest"),
        ("kind", "finding.lost", "unknown kind 'finding.lost'"),
        ("kind", None, "unknown kind None"),
        ("at", "2026-11-21T12:00:00", "at '2026-11-21T12:00:00' is not an ISO 8601 UTC time"),
        ("at", "not a time Z", "at 'not a time Z' is not an ISO 8601 UTC time"),
        ("at", 5, "at 5 is not an ISO 8601 UTC time"),
        ("data", [], "data is not an object"),
        ("data", None, "data is not an object"),
    ],
)
def test_a_mistyped_envelope_field_is_malformed(key: str, value: Any, message: str) -> None:
    raw = envelope()
    raw[key] = value
    with pytest.raises(RecordFormatError) as caught:
        decode(canonical(raw))
    # Exact: ``ledger verify`` shows it as the reason a record is malformed.
    assert str(caught.value) == message


def test_the_smallest_valid_values_are_accepted() -> None:
    record = decode(canonical(envelope(seq=1, prev="f" * 64)))
    assert record.seq == 1 and record.prev == "f" * 64


@pytest.mark.parametrize(
    "line",
    [b"", b"not json", b"[1]", b'"text"', b"\xff", b'{"v":1'],
    # Plain ids: mutmut cannot select a test whose id holds quotes and backslashes.
    ids=["empty", "text", "list", "string", "not-utf8", "cut"],
)
def test_what_is_not_a_json_object_is_malformed(line: bytes) -> None:
    with pytest.raises(RecordFormatError) as caught:
        decode(line)
    text = str(caught.value)
    if line in (b"[1]", b'"text"'):
        assert text == "not a JSON object"
    else:
        assert text.startswith("not valid JSON (") and text.endswith(")")


def test_non_ascii_bytes_are_not_a_record() -> None:
    line = canonical(envelope())[:-2] + '"é"}'.encode()
    with pytest.raises(RecordFormatError, match="not valid JSON"):
        decode(line)


_FIELD_CASES = [
    (kind, key, wrong)
    for kind, fields in _FIELDS.items()
    for key, types in fields.items()
    for wrong in _wrong(types)
]


@pytest.mark.parametrize(("kind", "key", "wrong"), _FIELD_CASES)
def test_every_field_of_every_kind_with_a_wrong_type_is_malformed(
    kind: RecordKind, key: str, wrong: Any
) -> None:
    raw = envelope(kind=kind)
    raw["data"][key] = wrong
    with pytest.raises(RecordFormatError) as caught:
        decode(canonical(raw))
    assert str(caught.value) == f"data.{key} of a {kind.value} record has the wrong type"


@pytest.mark.parametrize(
    ("kind", "key"), [(kind, key) for kind, fields in _FIELDS.items() for key in fields]
)
def test_every_field_of_every_kind_is_required(kind: RecordKind, key: str) -> None:
    raw = envelope(kind=kind)
    del raw["data"][key]
    with pytest.raises(RecordFormatError) as caught:
        decode(canonical(raw))
    assert str(caught.value) == f"{kind.value} record lacks data.{key}"


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        (kind, key)
        for kind, fields in _FIELDS.items()
        for key, types in fields.items()
        if type(None) in types
    ],
)
def test_every_optional_field_takes_null(kind: RecordKind, key: str) -> None:
    raw = envelope(kind=kind)
    raw["data"][key] = None
    assert decode(canonical(raw)).data[key] is None


# ---------------------------------------------------------------- chain


def test_link_numbers_chains_and_measures_every_record() -> None:
    start = ChainHead(7, "c" * 64, 1000)
    entries = [run_entry(n) for n in range(3)]
    linked = link(start, entries)
    lines = linked.data.splitlines(keepends=True)
    assert len(lines) == 3 and all(line.endswith(b"\n") for line in lines)
    prev = "c" * 64
    for n, (record, line) in enumerate(zip(linked.records, lines, strict=True)):
        assert record.seq == 8 + n and record.prev == prev
        assert record.hash == hashlib.sha256(line[:-1]).hexdigest()
        assert line[:-1] == encode(8 + n, prev, entries[n])
        assert (record.kind, record.at, record.data) == (RecordKind.RUN, day(n), entries[n].data)
        prev = record.hash
    assert linked.head == ChainHead(10, prev, 1000 + len(linked.data))
    assert link(start, []) == type(linked)((), b"", start)


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_an_intact_chain_walks_to_its_head(count: int) -> None:
    lines = chain_lines(count)
    seqs, chain = walk(lines)
    assert seqs == list(range(1, count + 1))
    last = decode(lines[-1][:-1]).hash if lines else GENESIS
    assert chain.head == ChainHead(count, last, sum(len(line) for line in lines))
    assert chain.tail == b""


def _error(lines: list[bytes]) -> ChainError:
    with pytest.raises(ChainError) as caught:
        walk(lines)
    return caught.value


@pytest.mark.parametrize("count", [1, 2, 4])
@pytest.mark.parametrize("offset", [-1, 1, 2, 100])
def test_a_record_numbered_out_of_place_is_reported_even_when_linked(
    count: int, offset: int
) -> None:
    # Correctly linked to its predecessor, so only the number check can catch it.
    lines = chain_lines(count)
    prev = decode(lines[-1][:-1]).hash
    seq = count + 1 + offset
    if seq < 1:
        pytest.skip("not a positive number")
    lines.append(encode(seq, prev, run_entry(9)) + b"\n")
    error = _error(lines)
    assert error.seq == count + 1 and error.line == count + 1
    assert f"line {count + 1} holds record {seq}, expected {count + 1}" in error.message


def test_a_first_record_that_does_not_start_from_genesis_is_reported() -> None:
    error = _error([encode(1, "1" * 64, run_entry(0)) + b"\n"])
    assert error.seq == 1 and "its prev is not the genesis value" in error.message


@pytest.mark.parametrize("at", [1, 2, 3])
def test_an_unlinked_record_names_the_one_before(at: int) -> None:
    lines = chain_lines(4)
    lines[at] = encode(at + 1, "e" * 64, run_entry(at)) + b"\n"
    error = _error(lines)
    assert error.seq == at + 1 and error.line == at + 1 and error.file == "records.jsonl"
    assert f"its prev is not the SHA-256 of record {at}" in error.message


@pytest.mark.parametrize("at", [0, 2])
def test_a_malformed_line_is_reported_with_its_number(at: int) -> None:
    lines = chain_lines(3)
    lines[at] = b"{}\n"
    error = _error(lines)
    assert error.seq == at + 1 and error.message.startswith("malformed: ")


@pytest.mark.parametrize(
    "padding",
    [b" ", b"\t", b"\r", b"  ", b" \t\r "],
    ids=["space", "tab", "cr", "spaces", "mixed"],
)
@pytest.mark.parametrize("at", [0, 2])
def test_every_byte_of_a_line_is_in_its_hash(padding: bytes, at: int) -> None:
    # Whitespace after the closing brace parses to the same record: only a hash over the
    # line's exact bytes, to the last one, makes the next record's prev disagree.
    lines = chain_lines(4)
    lines[at] = lines[at][:-1] + padding + b"\n"
    assert decode(lines[at][:-1]).hash == hashlib.sha256(lines[at][:-1]).hexdigest()
    error = _error(lines)
    assert error.seq == at + 2 and "its prev is not the SHA-256" in error.message


@pytest.mark.parametrize("cut", [1, 10, -1])
def test_a_torn_last_line_is_left_as_the_tail(cut: int) -> None:
    lines = chain_lines(3)
    torn = lines[-1][:cut]
    seqs, chain = walk([*lines[:-1], torn])
    assert seqs == [1, 2] and chain.tail == torn
    assert chain.head.seq == 2 and chain.head.size == len(lines[0]) + len(lines[1])


@pytest.mark.parametrize("after", [b"\n", b"x", b"x\n"])
def test_a_line_cut_short_before_the_end_is_reported(after: bytes) -> None:
    lines = chain_lines(3)
    error = _error([lines[0], lines[1][:-1], after])
    assert error.seq == 2 and "a record is cut short before the end" in error.message


@pytest.mark.parametrize(
    "damage", ["malformed", "renumbered", "unlinked", "not-genesis", "after-the-tail"]
)
def test_every_chain_error_names_the_file_the_line_and_the_likely_tampering(
    damage: str,
) -> None:
    lines = chain_lines(3)
    at = 0 if damage == "not-genesis" else 1
    if damage == "malformed":
        lines[at] = b"{}\n"
    elif damage == "renumbered":
        lines[at] = lines[at].replace(b'"seq":2', b'"seq":7')
    elif damage in ("unlinked", "not-genesis"):
        raw = json.loads(lines[at])
        raw["prev"] = "f" * 64
        lines[at] = canonical(raw) + b"\n"
    else:
        lines[at] = lines[at][:-1]  # a torn line with a record after it
    error = _error(lines)
    assert (error.seq, error.line, error.file, error.hint) == (
        at + 1,
        at + 1,
        "records.jsonl",
        TAMPER_HINT,
    )
    exact = {
        "not-genesis": "its prev is not the genesis value",
        "after-the-tail": "a record is cut short before the end",
        "unlinked": "its prev is not the SHA-256 of record 1: record 1 or this one was "
        "edited, or a record between them deleted",
    }
    if damage in exact:
        assert error.message == exact[damage]
