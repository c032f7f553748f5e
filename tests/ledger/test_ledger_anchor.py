"""Signed heads and history: a git ledger rewritten as an adversary would (a truncation
committed normally, a decision rewritten with every hash recomputed, an orphan history
force-pushed, the branch deleted, heads re-signed with another key) is caught by ``ledger
verify --pubkey`` on a fresh runner, and ``check`` refuses to append to it (exit 2)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from ledger_project import Outcome, Project, cli, cli_subprocess, day, git

from compliancegate.ledger.chain import GENESIS, ChainHead, link
from compliancegate.ledger.files import Head, encode_head
from compliancegate.ledger.records import Entry, decode, line_hash
from compliancegate.ledger.signed import append_head
from compliancegate.signing.keys import SigningKey, generate

SCANS = [("CVE-1",), (), ("CVE-1", "CVE-2"), ("CVE-2",)]
BRANCH = "ledger"


@dataclass
class Signed:
    """A git ledger with signed heads, the runner that wrote it, and the keys."""

    project: Project
    remote: Path
    key: SigningKey
    key_file: Path
    pub: Path
    runner_state: Path
    tmp: Path

    @property
    def location(self) -> str:
        return f"git:{self.remote}#{BRANCH}"

    def env(self, **extra: str) -> dict[str, str]:
        """The writing runner's environment: its key and its own state directory."""
        return {
            "COMPLIANCEGATE_SIGNING_KEY_FILE": str(self.key_file),
            "COMPLIANCEGATE_STATE_DIR": str(self.runner_state),
            **extra,
        }

    def check(self, n: int, **extra: str) -> Outcome:
        args = ["check", "--env", "staging", "--ledger", self.location]
        return cli(args, now=day(n), **self.env(**extra))

    def fresh_verify(self, *args: str, pubkey: Path | None = None) -> Outcome:
        """``ledger verify`` on a fresh runner (a new state directory: a fresh clone)."""
        fresh = self.tmp / f"fresh-{len(list(self.tmp.glob('fresh-*')))}"
        keys = ["--pubkey", str(pubkey or self.pub)]
        return cli(
            ["ledger", "verify", "--ledger", self.location, *keys, *args],
            COMPLIANCEGATE_STATE_DIR=str(fresh),
        )

    def clone(self) -> Path:
        """An adversary's work tree of the ledger branch."""
        work = self.tmp / f"adversary-{len(list(self.tmp.glob('adversary-*')))}"
        git("clone", "--quiet", "--branch", BRANCH, str(self.remote), str(work), cwd=self.tmp)
        return work


@pytest.fixture
def signed(project: Project, remote: Path, tmp_path: Path) -> Signed:
    keys = tmp_path / "keys"
    keys.mkdir()
    key, pub = generate(keys / "ledger.key")
    ledger = Signed(project, remote, key, keys / "ledger.key", pub, tmp_path / "runner", tmp_path)
    for n, critical in enumerate(SCANS):
        project.scan(*critical)
        outcome = ledger.check(n)
        assert outcome.code in (0, 1), outcome.output
        assert "ledger-" not in outcome.stdout, outcome.stdout
    verified = ledger.fresh_verify()
    assert verified.code == 0, verified.output
    assert f"every head signed by {key.key_id}" in verified.stdout
    return ledger


def records_of(work: Path) -> list[bytes]:
    return (work / "records.jsonl").read_bytes().splitlines()


def rechain(lines: list[bytes]) -> tuple[bytes, ChainHead]:
    """Re-link records from scratch, as an adversary recomputing every hash would."""
    entries = []
    for line in lines:
        record = decode(line)
        entries.append(Entry(record.kind, record.at, record.data))
    linked = link(ChainHead(0, GENESIS, 0), entries)
    return linked.data, linked.head


def commit_all(work: Path, message: str = "compliancegate: run") -> None:
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", message, cwd=work)


def write_ledger(work: Path, lines: list[bytes], heads: bytes | None = None) -> ChainHead:
    data, head = rechain(lines)
    (work / "records.jsonl").write_bytes(data)
    (work / "head.json").write_bytes(encode_head(Head(head)))
    if heads is not None:
        (work / "heads.jsonl").write_bytes(heads)
    return head


def rewrite_decision(lines: list[bytes]) -> list[bytes]:
    """The first failing run made to look compliant (its decision rewritten)."""
    out = []
    done = False
    for line in lines:
        record = json.loads(line)
        if not done and record["kind"] == "run" and record["data"]["decision"] != "compliant":
            record["data"]["decision"] = "compliant"
            done = True
        out.append(line if record["kind"] != "run" else json.dumps(record).encode())
    assert done
    return out


def refused(ledger: Signed, outcome: Outcome, *words: str) -> None:
    assert outcome.code == 2, outcome.output
    assert "rewritten" in outcome.output, outcome.output
    for word in words:
        assert word in outcome.output, outcome.output


def remote_records(ledger: Signed) -> bytes:
    try:
        return subprocess.run(
            ["git", "--git-dir", str(ledger.remote), "show", f"{BRANCH}:records.jsonl"],
            capture_output=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError:
        return b""


def test_a_truncation_committed_normally(signed: Signed) -> None:
    work = signed.clone()
    lines = records_of(work)
    write_ledger(work, lines[:-3])  # heads.jsonl kept: it names records no longer there
    commit_all(work)
    git("push", "--quiet", "origin", BRANCH, cwd=work)
    outcome = signed.fresh_verify()
    assert outcome.code == 1
    assert "does not only append to its parent's records" in outcome.stdout
    assert f"rewrites or removes record {len(lines) - 2}" in outcome.stdout
    # Without a key too: the history walk alone sees it.
    plain = cli(
        ["ledger", "verify", "--ledger", signed.location],
        COMPLIANCEGATE_STATE_DIR=str(signed.tmp / "plain"),
    )
    assert plain.code == 1 and "does not only append" in plain.stdout
    before = remote_records(signed)
    refused(signed, signed.check(9), f"record {len(lines)}")
    assert remote_records(signed) == before
    # A fresh runner with the key refuses too: the signed heads name records now gone.
    fresh = signed.check(9, COMPLIANCEGATE_STATE_DIR=str(signed.tmp / "fresh-runner"))
    refused(signed, fresh, "is not in the ledger")
    assert remote_records(signed) == before


def test_a_decision_rewritten_with_every_hash_recomputed(signed: Signed) -> None:
    work = signed.clone()
    lines = records_of(work)
    write_ledger(work, rewrite_decision(lines))
    commit_all(work)
    git("push", "--quiet", "origin", BRANCH, cwd=work)
    outcome = signed.fresh_verify()
    assert outcome.code == 1 and "does not only append" in outcome.stdout
    refused(signed, signed.check(9))
    fresh = signed.check(9, COMPLIANCEGATE_STATE_DIR=str(signed.tmp / "fresh-runner"))
    refused(signed, fresh, "differs")


@pytest.mark.parametrize("heads", ["kept", "dropped"])
def test_an_orphan_history_force_pushed(signed: Signed, heads: str) -> None:
    work = signed.clone()
    lines = records_of(work)
    git("checkout", "--quiet", "--orphan", "rewritten", cwd=work)
    if heads == "dropped":
        (work / "heads.jsonl").unlink()
    write_ledger(work, rewrite_decision(lines))
    commit_all(work, "compliancegate: 4 operation(s)")
    git("push", "--quiet", "--force", "origin", f"rewritten:{BRANCH}", cwd=work)
    outcome = signed.fresh_verify()
    assert outcome.code == 1, outcome.output
    if heads == "kept":
        assert "differs" in outcome.stdout
    else:
        assert "none of the" in outcome.stdout and "covered by a signed head" in outcome.stdout
    refused(signed, signed.check(9), "expected record")


def test_an_orphan_rollback_to_an_earlier_signed_head(signed: Signed) -> None:
    """Every signature genuine, the chain shorter: only an earlier head catches it."""
    work = signed.clone()
    verified = signed.fresh_verify()
    head_text = verified.stdout.split("head ")[1].split(";")[0]
    heads = (work / "heads.jsonl").read_bytes().splitlines(keepends=True)
    first = json.loads(heads[0])
    lines = records_of(work)[: first["seq"]]
    git("checkout", "--quiet", "--orphan", "rolled-back", cwd=work)
    write_ledger(work, lines, heads[0])
    commit_all(work)
    git("push", "--quiet", "--force", "origin", f"rolled-back:{BRANCH}", cwd=work)
    assert signed.fresh_verify().code == 0  # internally consistent, genuinely signed
    outcome = signed.fresh_verify("--expect-head", head_text)
    assert outcome.code == 1 and "no longer a prefix" in outcome.stdout
    refused(signed, signed.check(9), f"ending at record {first['seq']}")
    pinned = signed.check(
        9,
        COMPLIANCEGATE_STATE_DIR=str(signed.tmp / "fresh-runner"),
        COMPLIANCEGATE_LEDGER_PIN=head_text,
    )
    refused(signed, pinned, "COMPLIANCEGATE_LEDGER_PIN")


def test_the_branch_deleted(signed: Signed) -> None:
    verified = signed.fresh_verify()
    head_text = verified.stdout.split("head ")[1].split(";")[0]
    git("--git-dir", str(signed.remote), "update-ref", "-d", f"refs/heads/{BRANCH}")
    outcome = signed.fresh_verify()
    assert outcome.code == 1 and "was deleted" in outcome.stdout
    assert signed.fresh_verify("--expect-head", head_text).code == 1
    refused(signed, signed.check(9), "the branch was deleted")
    assert remote_records(signed) == b""  # nothing was appended to a new, empty branch
    pinned = signed.check(
        9,
        COMPLIANCEGATE_STATE_DIR=str(signed.tmp / "fresh-runner"),
        COMPLIANCEGATE_LEDGER_PIN=head_text,
    )
    refused(signed, pinned, "the branch was deleted")
    assert remote_records(signed) == b""


def test_heads_re_signed_with_another_key(signed: Signed) -> None:
    work = signed.clone()
    lines = rewrite_decision(records_of(work))
    other, other_pub = generate(signed.tmp / "keys" / "other.key")
    data, _ = rechain(lines)
    heads = b""
    size = 0
    for seq, line in enumerate(data.splitlines(keepends=True), start=1):
        size += len(line)
        heads = append_head(heads, other, ChainHead(seq, line_hash(line[:-1]), size))
    git("checkout", "--quiet", "--orphan", "resigned", cwd=work)
    write_ledger(work, lines, heads)
    commit_all(work)
    git("push", "--quiet", "--force", "origin", f"resigned:{BRANCH}", cwd=work)
    outcome = signed.fresh_verify()
    assert outcome.code == 1
    assert f"signed by key {other.key_id}, which is not a trusted key" in outcome.stdout
    assert signed.fresh_verify(pubkey=other_pub).code == 0  # the adversary's own key agrees
    fresh = signed.check(9, COMPLIANCEGATE_STATE_DIR=str(signed.tmp / "fresh-runner"))
    refused(signed, fresh, f"signed by key {other.key_id}")


def test_records_appended_without_the_key_are_not_covered(signed: Signed) -> None:
    outcome = cli(
        ["check", "--env", "staging", "--ledger", signed.location],
        now=day(9),
        COMPLIANCEGATE_STATE_DIR=str(signed.runner_state),
    )
    assert outcome.code in (0, 1) and "ledger-" not in outcome.stdout
    verified = signed.fresh_verify()
    assert verified.code == 1
    assert "are not covered by a signed head" in verified.stdout
    # The keyed runner goes on (its signed head vouches for the unsigned run's records),
    # but every head must be signed: the unsigned commit stays in the history.
    assert signed.check(10).code in (0, 1)
    again = signed.fresh_verify()
    assert again.code == 1 and "ends the ledger at record" in again.stdout


def test_verify_and_check_in_a_subprocess(signed: Signed) -> None:
    work = signed.clone()
    write_ledger(work, records_of(work)[:-1])
    commit_all(work)
    git("push", "--quiet", "origin", BRANCH, cwd=work)
    fresh = signed.tmp / "sub-fresh"
    args = ["ledger", "verify", "--ledger", signed.location, "--pubkey", str(signed.pub)]
    outcome = cli_subprocess(args, signed.project.root, COMPLIANCEGATE_STATE_DIR=str(fresh))
    assert outcome.code == 1 and "does not only append" in outcome.stdout
    check = cli_subprocess(
        ["check", "--env", "staging", "--ledger", signed.location],
        signed.project.root,
        **signed.env(),
    )
    assert check.code == 2 and "rewritten" in check.stderr
    assert "Traceback" not in check.output


def test_a_pubkey_inside_the_gated_tree_is_refused(signed: Signed) -> None:
    inside = signed.project.root / "trusted.pub"
    inside.write_bytes(signed.pub.read_bytes())
    git("init", "--quiet", str(signed.project.root))
    outcome = signed.fresh_verify(pubkey=inside)
    assert outcome.code == 2 and "inside the repository being gated" in outcome.output


@pytest.mark.parametrize("value", ["5", "x:abc", "0:" + "0" * 64, "3:" + "g" * 64, "3:abc"])
def test_a_malformed_expect_head_or_pin_is_exit_2(signed: Signed, value: str) -> None:
    assert signed.fresh_verify("--expect-head", value).code == 2
    assert signed.check(9, COMPLIANCEGATE_LEDGER_PIN=value).code == 2


def test_a_bad_signing_key_stops_check_before_it_runs(signed: Signed) -> None:
    before = remote_records(signed)
    outcome = signed.check(9, COMPLIANCEGATE_SIGNING_KEY_FILE=str(signed.pub))
    assert outcome.code == 2 and str(signed.pub) in outcome.output
    assert remote_records(signed) == before


def test_a_merge_in_the_branch_history(signed: Signed) -> None:
    work = signed.clone()
    git("checkout", "--quiet", "-b", "side", "HEAD~1", cwd=work)
    (work / "side.txt").write_text("x")
    commit_all(work, "side")
    git("checkout", "--quiet", BRANCH, cwd=work)
    git("merge", "--quiet", "--no-edit", "side", cwd=work)
    git("push", "--quiet", "origin", BRANCH, cwd=work)
    outcome = signed.fresh_verify()
    assert outcome.code == 1 and "is a merge" in outcome.stdout


def test_an_unsigned_ledger_passes_without_keys_only(
    project: Project, remote: Path, tmp_path: Path
) -> None:
    location = f"git:{remote}#{BRANCH}"
    for n, critical in enumerate(SCANS[:2]):
        project.scan(*critical)
        assert cli(["check", "--env", "staging", "--ledger", location], now=day(n)).code in (0, 1)
    assert cli(["ledger", "verify", "--ledger", location]).code == 0
    _, pub = generate(tmp_path / "k")
    outcome = cli(["ledger", "verify", "--ledger", location, "--pubkey", str(pub)])
    assert outcome.code == 1 and "covered by a signed head" in outcome.stdout


def test_sync_and_findings_commands_refuse_a_rewritten_ledger(signed: Signed) -> None:
    work = signed.clone()
    write_ledger(work, records_of(work)[:-1])
    commit_all(work)
    git("push", "--quiet", "origin", BRANCH, cwd=work)
    before = remote_records(signed)
    env = signed.env()
    for args in (
        ["ledger", "sync"],
        ["findings", "list"],
        [
            "findings",
            "open",
            "--clause",
            "audit-finding",
            "--control",
            "tiny:VULN-1",
            "--title",
            "from the audit",
        ],
    ):
        outcome = cli([*args, "--ledger", signed.location], now=day(9), **env)
        assert outcome.code == 2, (args, outcome.output)
        assert "rewritten" in outcome.output and "Traceback" not in outcome.output
    assert remote_records(signed) == before
    # The refused operation waits in the queue: nothing is lost, nothing is appended.
    assert list(signed.runner_state.glob("ledgers/*/pending/*.json"))


def test_check_writes_its_reports_before_exiting_2(signed: Signed) -> None:
    git("--git-dir", str(signed.remote), "update-ref", "-d", f"refs/heads/{BRANCH}")
    report = signed.tmp / "report.json"
    args = ["check", "--env", "staging", "--ledger", signed.location]
    outcome = cli([*args, "--report", f"json={report}"], now=day(9), **signed.env())
    assert outcome.code == 2
    notices = json.loads(report.read_text())["notices"]
    assert any(n["code"] == "ledger-rewritten" for n in notices), notices
