"""Signed heads in a file ledger: ``heads.jsonl`` beside the records, one signed head per
stored batch; rewrites that recompute the chain and ``head.json`` are caught by ``ledger
verify --pubkey``, and a keyed ``check`` refuses to append to them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ledger_project import Outcome, Project, cli, day
from test_ledger_anchor import rechain, rewrite_decision

from compliancegate.ledger.chain import ChainHead
from compliancegate.ledger.files import Head, encode_head
from compliancegate.ledger.filestore import FileStore
from compliancegate.ledger.records import line_hash
from compliancegate.ledger.signed import append_head
from compliancegate.signing.keys import generate

SCANS = [("CVE-1",), (), ("CVE-1", "CVE-2"), ("CVE-2",)]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    folder = tmp_path / "keys"
    folder.mkdir()
    generate(folder / "ledger.key")
    return folder


@pytest.fixture
def ledger(project: Project, keys: Path) -> Path:
    for n, critical in enumerate(SCANS):
        project.scan(*critical)
        assert check(keys, n).code in (0, 1)
    folder = project.root / ".compliancegate" / "ledger"
    heads = (folder / "heads.jsonl").read_bytes().splitlines()
    runs = sum(1 for r in (folder / "records.jsonl").read_bytes().splitlines() if b'"run"' in r)
    assert len(heads) == runs == len(SCANS)
    last = json.loads(heads[-1])
    assert last["seq"] == json.loads((folder / "head.json").read_bytes())["seq"]
    assert verify(keys).code == 0
    return folder


def check(keys: Path, n: int, **env: str) -> Outcome:
    return cli(
        ["check", "--env", "staging"],
        now=day(n),
        COMPLIANCEGATE_SIGNING_KEY_FILE=str(keys / "ledger.key"),
        **env,
    )


def verify(keys: Path, *args: str, pub: str = "ledger.key.pub") -> Outcome:
    return cli(["ledger", "verify", "--pubkey", str(keys / pub), *args])


def rewrite(folder: Path, lines: list[bytes]) -> None:
    data, head = rechain(lines)
    (folder / "records.jsonl").write_bytes(data)
    (folder / "head.json").write_bytes(encode_head(Head(head)))


def refused(outcome: Outcome, *words: str) -> None:
    assert outcome.code == 2, outcome.output
    for word in ("rewritten", *words):
        assert word in outcome.output, outcome.output


def test_a_truncation_with_the_head_recomputed(ledger: Path, keys: Path) -> None:
    lines = (ledger / "records.jsonl").read_bytes().splitlines()
    rewrite(ledger, lines[:-2])
    assert cli(["ledger", "verify"]).code == 1  # the heads name records no longer there
    outcome = verify(keys)
    assert outcome.code == 1 and "is not in the ledger" in outcome.stdout
    before = (ledger / "records.jsonl").read_bytes()
    refused(check(keys, 9), "is not in the ledger")
    assert (ledger / "records.jsonl").read_bytes() == before


def test_a_decision_rewritten_and_every_hash_recomputed(ledger: Path, keys: Path) -> None:
    rewrite(ledger, rewrite_decision((ledger / "records.jsonl").read_bytes().splitlines()))
    outcome = verify(keys)
    assert outcome.code == 1 and "differs" in outcome.stdout
    refused(check(keys, 9), "differs")


def test_signed_heads_deleted_too(ledger: Path, keys: Path) -> None:
    rewrite(ledger, rewrite_decision((ledger / "records.jsonl").read_bytes().splitlines()))
    (ledger / "heads.jsonl").unlink()
    outcome = verify(keys)
    assert outcome.code == 1 and "covered by a signed head" in outcome.stdout


def test_heads_re_signed_with_another_key(ledger: Path, keys: Path) -> None:
    other, _ = generate(keys / "other.key")
    lines = rewrite_decision((ledger / "records.jsonl").read_bytes().splitlines())
    rewrite(ledger, lines)
    heads, size = b"", 0
    for seq, line in enumerate((ledger / "records.jsonl").read_bytes().splitlines(True), 1):
        size += len(line)
        heads = append_head(heads, other, ChainHead(seq, line_hash(line[:-1]), size))
    (ledger / "heads.jsonl").write_bytes(heads)
    outcome = verify(keys)
    assert outcome.code == 1 and "not a trusted key" in outcome.stdout
    assert verify(keys, pub="other.key.pub").code == 0
    # Several trusted keys: either may sign.
    trusted = ("--pubkey", str(keys / "ledger.key.pub"), "--pubkey", str(keys / "other.key.pub"))
    both = cli(["ledger", "verify", *trusted])
    assert both.code == 0
    refused(check(keys, 9), f"signed by key {other.key_id}")


@pytest.mark.parametrize("edit", ["prev", "sig", "seq", "extra", "spaces", "swap"])
def test_an_edited_signed_head_fails(ledger: Path, keys: Path, edit: str) -> None:
    path = ledger / "heads.jsonl"
    lines = path.read_bytes().splitlines()
    first = json.loads(lines[0])
    if edit == "prev":
        first["prev"] = "1" * 64
    elif edit == "sig":
        sig = bytearray(first["sig"].encode())
        sig[5] = ord("A") if sig[5] != ord("A") else ord("B")
        first["sig"] = sig.decode()
    elif edit == "seq":
        first["seq"] += 1
    elif edit == "extra":
        first["note"] = "x"
    if edit == "swap":
        lines[0], lines[1] = lines[1], lines[0]
    elif edit == "spaces":
        lines[0] = json.dumps(first, sort_keys=True).encode()
    else:
        lines[0] = json.dumps(first, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    outcome = verify(keys)
    assert outcome.code == 1, outcome.output
    assert "signed head" in outcome.stdout


def test_a_torn_signed_head_is_dropped_by_the_next_append(ledger: Path, keys: Path) -> None:
    path = ledger / "heads.jsonl"
    intact = path.read_bytes()
    path.write_bytes(intact + intact.splitlines(True)[-1][:40])  # a crash mid-write
    assert cli(["ledger", "verify"]).code == 0  # a torn line is no signed head
    assert check(keys, 9).code in (0, 1)
    data = path.read_bytes()
    assert data.startswith(intact) and data.count(b"\n") == intact.count(b"\n") + 1
    assert verify(keys).code == 0


def test_expect_head_on_a_file_ledger(ledger: Path, keys: Path) -> None:
    outcome = verify(keys)
    head = outcome.stdout.split("head ")[1].split(";")[0]
    seq, digest = head.split(":")
    assert verify(keys, "--expect-head", head).code == 0
    lines = (ledger / "records.jsonl").read_bytes().splitlines()
    assert verify(keys, "--expect-head", f"2:{line_hash(lines[1])}").code == 0
    wrong = verify(keys, "--expect-head", f"{seq}:{'0' * 64}")
    assert wrong.code == 1 and "no longer a prefix" in wrong.stdout
    beyond = verify(keys, "--expect-head", f"{int(seq) + 1}:{digest}")
    assert beyond.code == 1 and f"ends at record {seq}" in beyond.stdout


def test_a_symlinked_heads_file_is_refused(ledger: Path, keys: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.jsonl"
    target.write_bytes((ledger / "heads.jsonl").read_bytes())
    (ledger / "heads.jsonl").unlink()
    (ledger / "heads.jsonl").symlink_to(target)
    outcome = check(keys, 9)
    assert "symlink" in outcome.output
    assert target.read_bytes().count(b"\n") == len(SCANS)


def test_a_signature_that_cannot_be_written_loses_no_record(
    ledger: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records are stored before the signed head: a failed signature (a full disk)
    neither loses nor queues them again, and the next signed head covers them."""

    def full_disk(self: FileStore, head: ChainHead) -> None:
        raise OSError(28, "No space left on device")

    before = (ledger / "records.jsonl").read_bytes().count(b"\n")
    with monkeypatch.context() as patch:
        patch.setattr(FileStore, "_sign", full_disk)
        outcome = check(keys, 9)
    assert outcome.code in (0, 1) and "ledger-" not in outcome.stdout, outcome.stdout
    assert (ledger / "records.jsonl").read_bytes().count(b"\n") > before
    assert not list(Path(os.environ["COMPLIANCEGATE_STATE_DIR"]).glob("ledgers/*/pending/*"))
    uncovered = verify(keys)
    assert uncovered.code == 1 and "not covered by a signed head" in uncovered.stdout
    assert check(keys, 10).code in (0, 1)
    assert verify(keys).code == 0


def test_unreadable_signed_heads_keep_the_run_pending(ledger: Path, keys: Path) -> None:
    """A writer that cannot check the last signed head does not append past it."""
    heads = ledger / "heads.jsonl"
    saved = heads.read_bytes()
    heads.unlink()
    heads.mkdir()
    before = (ledger / "records.jsonl").read_bytes()
    outcome = check(keys, 9)
    assert "ledger-pending" in outcome.stdout
    assert (ledger / "records.jsonl").read_bytes() == before
    heads.rmdir()
    heads.write_bytes(saved)
    synced = check(keys, 10)
    assert "ledger-synced" in synced.stdout
    assert verify(keys).code == 0
