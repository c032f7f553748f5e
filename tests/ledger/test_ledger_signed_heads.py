"""Signed heads as values: for chains of every size and every batching, a truncation, an
edit with every hash recomputed, a dropped, reordered or re-signed head is caught; an intact
chain, and a chain grown after its last signed head, is not (by writers)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliancegate.ledger.chain import EMPTY, ChainHead, link
from compliancegate.ledger.records import Entry, RecordKind
from compliancegate.ledger.signed import (
    append_head,
    check_heads,
    parse_expected,
    parse_heads,
    record_ends,
    tip_problem,
)
from compliancegate.signing.keys import SigningKey, private_from_pem

_PEM = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIBQ3MtT1Pnm2YkLr5bq1B0k2Wq9qg2mzKk0L1f8wq6pV
-----END PRIVATE KEY-----
"""
_OTHER = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIH5Y8pZ3d2Vn0X1oD3v2y9iQ1mUuWm7Yc2u3bT1f0aQk
-----END PRIVATE KEY-----
"""
KEY = private_from_pem(_PEM, "test")
OTHER = private_from_pem(_OTHER, "other")
AT = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def entries(texts: Sequence[str]) -> list[Entry]:
    return [Entry(RecordKind.NOTED, AT, {"text": t}) for t in texts]


def build(texts: Sequence[str], cuts: Sequence[int], key: SigningKey = KEY) -> tuple[bytes, bytes]:
    """Records of ``texts`` stored in batches ending after each of ``cuts`` (and the last),
    each batch's head signed: the records and ``heads.jsonl``."""
    data, heads, head = b"", b"", EMPTY
    bounds = sorted({c for c in cuts if 0 < c < len(texts)} | {len(texts)})
    start = 0
    for end in bounds:
        linked = link(head, entries(texts[start:end]))
        data, head, start = data + linked.data, linked.head, end
        heads = append_head(heads, key, head)
    return data, heads


def verdict(records: bytes, heads: bytes, trusted: Sequence[SigningKey] = (KEY,)) -> object:
    ends = list(record_ends(records))
    try:
        parsed = parse_heads(heads, "heads.jsonl")
    except Exception as exc:
        return exc
    return check_heads(parsed, ends, [k.public for k in trusted], "heads.jsonl")


chains = st.lists(st.text(max_size=8), min_size=1, max_size=25).flatmap(
    lambda texts: st.tuples(st.just(texts), st.lists(st.integers(0, len(texts)), max_size=8))
)


@settings(max_examples=60, deadline=None)
@given(chains)
def test_an_intact_chain_verifies(chain: tuple[list[str], list[int]]) -> None:
    records, heads = build(*chain)
    assert verdict(records, heads) is None
    assert tip_problem(heads, list(record_ends(records)), KEY.public, "h") is None


@settings(max_examples=60, deadline=None)
@given(chains, st.data())
def test_a_truncation_is_caught(chain: tuple[list[str], list[int]], data: st.DataObject) -> None:
    records, heads = build(*chain)
    lines = records.splitlines(keepends=True)
    keep = data.draw(st.integers(0, len(lines) - 1))
    cut = b"".join(lines[:keep])
    assert verdict(cut, heads) is not None
    assert tip_problem(heads, list(record_ends(cut)), KEY.public, "h") is not None


@settings(max_examples=60, deadline=None)
@given(chains, st.data())
def test_an_edit_with_every_hash_recomputed_is_caught(
    chain: tuple[list[str], list[int]], data: st.DataObject
) -> None:
    texts, cuts = chain
    _records, heads = build(texts, cuts)
    index = data.draw(st.integers(0, len(texts) - 1))
    edited = [*texts]
    edited[index] += "!"
    forged = link(EMPTY, entries(edited)).data
    assert verdict(forged, heads) is not None
    assert tip_problem(heads, list(record_ends(forged)), KEY.public, "h") is not None
    # Re-signed with another key: consistent, and refused unless that key is trusted.
    resigned_records, resigned = build(edited, cuts, OTHER)
    assert verdict(resigned_records, resigned) is not None
    assert verdict(resigned_records, resigned, (KEY, OTHER)) is None
    assert tip_problem(resigned, list(record_ends(resigned_records)), KEY.public, "h")


@settings(max_examples=60, deadline=None)
@given(chains, st.data())
def test_a_dropped_or_swapped_signed_head_is_caught(
    chain: tuple[list[str], list[int]], data: st.DataObject
) -> None:
    records, heads = build(*chain)
    lines = heads.splitlines(keepends=True)
    index = data.draw(st.integers(0, len(lines) - 1))
    dropped = b"".join(lines[:index] + lines[index + 1 :])
    assert verdict(records, dropped) is not None
    if len(lines) > 1:
        swapped = [*lines]
        swapped[index], swapped[index - 1] = swapped[index - 1], swapped[index]
        assert verdict(records, b"".join(swapped)) is not None


def test_records_after_the_last_signed_head() -> None:
    records, heads = build(["a", "b", "c"], [2])
    grown = records + link(list(record_ends(records))[-1], entries(["d"])).data
    # Writers accept an unsigned tail (the next signed head covers it); auditors do not.
    assert tip_problem(heads, list(record_ends(grown)), KEY.public, "h") is None
    problem = verdict(grown, heads)
    assert problem is not None and "records 4 to 4 are not covered" in str(problem)


@pytest.mark.parametrize(
    "value", ["", "1", "1:", ":" + "a" * 64, "0:" + "a" * 64, "-1:" + "a" * 64, "1:" + "A" * 64]
)
def test_expected_heads_are_seq_colon_sha256(value: str) -> None:
    with pytest.raises(ValueError, match="SEQ:HASH"):
        parse_expected(value)
    assert parse_expected("12:" + "a" * 64) == ChainHead(12, "a" * 64, -1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("v", True), ("v", 2), ("seq", True), ("seq", "3"), ("size", 1.5), ("sig", "not base64!")],
)
def test_mistyped_fields_of_a_signed_head_are_malformed(field: str, value: object) -> None:
    records, heads = build(["a", "b"], [])
    raw = json.loads(heads)
    raw[field] = value
    forged = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    problem = verdict(records, forged)
    assert problem is not None and "malformed" in str(problem)


def test_a_signed_head_at_record_0_is_refused_by_writers() -> None:
    records, _ = build(["a"], [])
    heads = append_head(b"", KEY, EMPTY)
    assert tip_problem(heads, list(record_ends(records)), KEY.public, "h") is not None
