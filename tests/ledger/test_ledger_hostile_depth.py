"""A ledger line or signed head nested past the JSON parser's depth (a hostile remote, or a
bundle) is a malformed record with its number, never a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_project import Project, cli, day

from compliancegate.ledger.interface import ChainError
from compliancegate.ledger.records import RecordFormatError, decode
from compliancegate.ledger.signed import parse_heads

DEEP = b"[" * 200_000 + b"]" * 200_000


def test_a_deep_record_is_malformed() -> None:
    with pytest.raises(RecordFormatError, match="not valid JSON"):
        decode(DEEP)


def test_a_deep_signed_head_is_malformed() -> None:
    with pytest.raises(ChainError, match="signed head 1: malformed"):
        parse_heads(DEEP + b"\n", "heads.jsonl")


def test_ledger_verify_names_the_deep_record(project: Project) -> None:
    assert cli(["check", "--env", "staging"], now=day(0)).code == 0
    records = Path(".compliancegate/ledger/records.jsonl")
    records.write_bytes(records.read_bytes() + DEEP + b"\n")
    outcome = cli(["ledger", "verify"])
    assert outcome.code == 1, outcome.output
    assert "Traceback" not in outcome.output and "internal error" not in outcome.output
