"""Evidence bundles of a real history: staging and production runs, breaks and fixes, an
acknowledgement, a plan, a waiver and a breach, recorded in a signed ledger. A bundle of one
run and one of the period are created, verified with only the public key, summarized, made
twice with identical bytes, and tampered with as an adversary would."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from ledger_project import Outcome, Project, cli, cli_subprocess, day, policies_yaml, register_yaml

from compliancegate.bundle import layout
from compliancegate.bundle.archive import Member, scan_archive, write_archive
from compliancegate.bundle.dsse import Statement, Subject, open_envelope, sign_envelope
from compliancegate.oscal.validation import validate_oscal
from compliancegate.signing.keys import load_private, load_public

WAIVERS = """\
apiVersion: compliancegate/v1
kind: Waivers
waivers:
  - {id: W-PIN, policy: images-pinned, reason: base image rebuild pending, approved_by: ciso,
     expires: '2030-01-01'}
"""


def _key_env(keys: Path) -> dict[str, str]:
    return {"COMPLIANCEGATE_SIGNING_KEY_FILE": str(keys / "signing.key")}


def _check(keys: Path, env: str, n: int, *extra: str) -> int:
    outcome = cli(
        ["check", "--env", env, "--run-id", f"{env}-{n}", *extra], now=day(n), **_key_env(keys)
    )
    assert outcome.code in (0, 1), outcome.output
    return outcome.code


@pytest.fixture
def history(project: Project, keys: Path) -> Project:
    """Day 0 staging breaks three things (CVE-1, CVE-2, an unpinned image: break-fix); day 1
    the owner acknowledges CVE-1 and plans CVE-2; day 2 production is blocked and breaches
    the break-fix finding; day 3 staging waives it; day 4 production fixes CVE-1; day 5
    staging breaks CVE-1 again; day 6 staging fixes everything but the waived image."""
    project.write("registers/tiny.yaml", register_yaml(clause="security-incident"))
    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.scan("CVE-1", "CVE-2")
    project.deploy(pinned=False)
    assert _check(keys, "staging", 0) == 1
    assert _check(keys, "production", 2) == 1
    project.write("waivers.yaml", WAIVERS)
    assert _check(keys, "staging", 3, "--waivers", "waivers.yaml") == 1
    project.scan("CVE-2")
    assert _check(keys, "production", 4, "--waivers", "waivers.yaml") == 1
    project.scan("CVE-1", "CVE-2")
    assert _check(keys, "staging", 5, "--waivers", "waivers.yaml") == 1
    project.scan()
    assert _check(keys, "staging", 6, "--waivers", "waivers.yaml") == 0
    return project


def create(keys: Path, out: Path, *args: str) -> Outcome:
    return cli(["bundle", "create", "-o", str(out), *args], **_key_env(keys))


def verify(bundle: Path, keys: Path, pub: str = "signing.key.pub") -> Outcome:
    return cli(["bundle", "verify", str(bundle), "--pubkey", str(keys / pub)])


def members(bundle: Path) -> dict[str, bytes]:
    return {m.name: m.data or b"" for m in scan_archive(bundle, keep=lambda name: True)}


def test_a_period_bundle_verifies_and_holds_the_evidence(
    history: Project, keys: Path, tmp_path: Path
) -> None:
    out = tmp_path / "period.tar.gz"
    made = create(keys, out, "--since", "2026-03-02", "--until", "2026-03-08")
    assert made.code == 0, made.output
    outcome = verify(out, keys)
    assert outcome.code == 0, outcome.output
    assert "verified" in outcome.stdout
    files = members(out)
    manifest = json.loads(files[layout.MANIFEST])
    assert [r["run_id"] for r in manifest["runs"]] == [
        "staging-0",
        "production-2",
        "staging-3",
        "production-4",
        "staging-5",
        "staging-6",
    ]
    assert manifest["ledger"]["first"] == 1 and manifest["ledger"]["signed"] is True
    for run in manifest["runs"]:
        folder = run["evidence"]
        for name in ("run.json", "results.json", "results.junit.xml", "results.sarif"):
            assert folder + name in files
        kept = json.loads(files[folder + "run.json"])
        roles = {i["role"] for i in kept["inputs"]}
        assert {"config", "register", "policies"} <= roles
        for item in kept["inputs"] + kept["artifacts"]:
            if item["member"] is None:
                continue  # an earlier run's artifact, rebuilt since: by digest only
            data = files[item["member"]]
            assert hashlib.sha256(data).hexdigest() == item["sha256"]
    # The last run's artifacts are still as judged, so they are in; earlier scans are not.
    last = json.loads(files[manifest["runs"][-1]["evidence"] + "run.json"])
    assert all(a["member"] for a in last["artifacts"])
    assert manifest["artifacts_unavailable"] >= 1
    # The policies as evaluated: the bytes the run read, not the file as it is now.
    assert any(name.startswith(layout.INPUTS) and name.endswith("/gate.yaml") for name in files)
    for name in (layout.ASSESSMENT, layout.POAM):
        assert validate_oscal(json.loads(files[name])) == []
    # The register's controls are the reviewed controls, and its file is named as the run
    # named it (not the temporary copy it was loaded again from).
    assessment = json.loads(files[layout.ASSESSMENT])["assessment-results"]
    selections = assessment["results"][0]["reviewed-controls"]["control-selections"]
    reviewed = [c["control-id"] for c in selections[0]["include-controls"]]
    assert reviewed[:2] == ["vuln-1", "cfg-1"]
    assert "registers/tiny.yaml" in json.dumps(assessment["back-matter"])
    assert "/tmp" not in files[layout.ASSESSMENT].decode()
    timelines = json.loads(files[layout.TIMELINES])
    assert any(f["breaches"] for f in timelines["findings"])


def test_the_same_bundle_twice_is_the_same_bytes(
    history: Project, keys: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    assert create(keys, first, "--run", "staging-6").code == 0
    assert create(keys, second, "--run", "staging-6").code == 0
    assert first.read_bytes() == second.read_bytes()
    # And in another process, at another time.
    third = tmp_path / "c.tar.gz"
    other = cli_subprocess(
        ["bundle", "create", "-o", str(third), "--run", "staging-6"],
        history.root,
        now=day(40),
        **_key_env(keys),
    )
    assert other.code == 0, other.output
    assert third.read_bytes() == first.read_bytes()
    # An earlier run, whose artifacts were rebuilt since: by digest, the same bytes too.
    old = [tmp_path / "old1.tar.gz", tmp_path / "old2.tar.gz"]
    for path in old:
        assert create(keys, path, "--run", "production-2", "--digests-only").code == 0
    assert old[0].read_bytes() == old[1].read_bytes()


def test_a_run_bundle_holds_that_run_and_the_head_that_signs_it(
    history: Project, keys: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run.tar.gz"
    assert create(keys, out, "--run", "production-4", "--digests-only").code == 0
    files = members(out)
    manifest = json.loads(files[layout.MANIFEST])
    assert [r["run_id"] for r in manifest["runs"]] == ["production-4"]
    assert manifest["artifacts"] == "digests"
    assert not any(name.startswith(layout.ARTIFACTS) for name in files)
    records = files[layout.RECORDS].splitlines()
    assert json.loads(records[0])["seq"] == manifest["ledger"]["first"] > 1
    heads = [json.loads(line) for line in files[layout.HEADS].splitlines()]
    assert heads[-1]["seq"] == manifest["ledger"]["last"]
    assert verify(out, keys).code == 0


def test_the_default_bundle_is_the_last_run(history: Project, keys: Path, tmp_path: Path) -> None:
    out = tmp_path / "last.tar.gz"
    assert create(keys, out).code == 0
    manifest = json.loads(members(out)[layout.MANIFEST])
    assert manifest["scope"] == {"run": "staging-6"}


def test_show_summarizes_the_period(history: Project, keys: Path, tmp_path: Path) -> None:
    out = tmp_path / "period.tar.gz"
    assert create(keys, out, "--since", "2026-03-02", "--until", "2026-03-08").code == 0
    shown = cli(["bundle", "show", str(out), "--format", "json"])
    assert shown.code == 0, shown.output
    summary = json.loads(shown.stdout)
    assert len(summary["runs"]) == 6
    assert summary["decisions"] == {"blocked": 5, "compliant": 1}
    assert summary["breaches"] >= 1 and summary["waived"] == 1
    closed = [f for f in summary["findings"] if f["closed_in_scope"]]
    assert closed and all(f["hours_to_remediate"] > 0 for f in closed)
    text = cli(["bundle", "show", str(out)])
    assert text.code == 0 and "Runs: 6" in text.stdout and "bundle verify" in text.stdout


# ------------------------------------------------------------------------------ tampering


def _rewrite(bundle: Path, change: dict[str, bytes | None], target: Path) -> None:
    """The bundle with members changed (None removes one), the archive rebuilt."""
    files: dict[str, bytes | None] = dict(members(bundle))
    files.update(change)
    write_archive(target, [Member(n, data=d) for n, d in files.items() if d is not None])


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


@pytest.fixture
def period(history: Project, keys: Path, tmp_path: Path) -> Path:
    out = tmp_path / "period.tar.gz"
    assert create(keys, out, "--since", "2026-03-02", "--until", "2026-03-08").code == 0
    return out


def _kinds(bundle: Path) -> list[str]:
    """One member of each kind."""
    names = sorted(members(bundle))
    chosen = [layout.MANIFEST, layout.RECORDS, layout.HEADS, layout.TIMELINES]
    chosen += [layout.ASSESSMENT, layout.POAM]
    for prefix in (layout.INPUTS, layout.ARTIFACTS):
        chosen.append(next(n for n in names if n.startswith(prefix)))
    for suffix in ("run.json", "results.json", "results.junit.xml", "results.sarif"):
        chosen.append(next(n for n in names if n.endswith("/" + suffix)))
    return chosen


def test_one_byte_changed_in_each_kind_of_member_fails(
    period: Path, keys: Path, tmp_path: Path
) -> None:
    original = members(period)
    for name in [*_kinds(period), layout.ENVELOPE]:
        target = tmp_path / "tampered.tar.gz"
        _rewrite(period, {name: _flip(original[name])}, target)
        outcome = verify(target, keys)
        assert outcome.code == 1, (name, outcome.output)
        assert name in outcome.stdout or layout.ENVELOPE in outcome.stdout, outcome.output


def test_a_member_added_or_removed_fails(period: Path, keys: Path, tmp_path: Path) -> None:
    target = tmp_path / "added.tar.gz"
    _rewrite(period, {"inputs/extra/policy.yaml": b"kind: Policy\n"}, target)
    outcome = verify(target, keys)
    assert outcome.code == 1 and "inputs/extra/policy.yaml: not in the signed" in outcome.stdout
    for name in _kinds(period):
        target = tmp_path / "removed.tar.gz"
        _rewrite(period, {name: None}, target)
        outcome = verify(target, keys)
        assert outcome.code == 1 and f"{name}: listed" in outcome.stdout, (name, outcome.output)


def test_a_manifest_re_signed_with_another_key_fails(
    period: Path, keys: Path, tmp_path: Path
) -> None:
    original = members(period)
    statement, _ = open_envelope(original[layout.ENVELOPE], [load_public(keys / "signing.key.pub")])
    manifest = json.loads(original[layout.MANIFEST])
    manifest["runs"][1]["decision"] = "compliant"
    forged = layout.pretty_json(manifest)
    digest = hashlib.sha256(forged).hexdigest()
    subjects = tuple(
        Subject(s.name, digest) if s.name == layout.MANIFEST else s for s in statement.subjects
    )
    predicate: dict[str, Any] = {
        **statement.predicate,
        "manifest": {"name": layout.MANIFEST, "sha256": digest},
    }
    envelope = sign_envelope(
        Statement(subjects, statement.predicate_type, predicate), load_private(keys / "other.key")
    )
    target = tmp_path / "resigned.tar.gz"
    _rewrite(period, {layout.MANIFEST: forged, layout.ENVELOPE: envelope}, target)
    outcome = verify(target, keys)
    assert outcome.code == 1 and "trusted" in outcome.stdout, outcome.output
    # With the forger's key trusted, the forgery is still caught: the ledger disagrees.
    trusting = verify(target, keys, pub="other.key.pub")
    assert trusting.code == 1, trusting.output


def test_a_truncated_bundle_fails(period: Path, keys: Path, tmp_path: Path) -> None:
    data = period.read_bytes()
    for cut in (10, len(data) // 3, len(data) // 2, len(data) - 9, len(data) - 1):
        target = tmp_path / "cut.tar.gz"
        target.write_bytes(data[:cut])
        outcome = verify(target, keys)
        assert outcome.code == 1 and "archive" in outcome.stdout, (cut, outcome.output)


def _hostile(target: Path, base: Path, add: tarfile.TarInfo, payload: bytes = b"") -> None:
    """``base``'s members and one more, written by tarfile as an attacker would."""
    files = members(base)
    with tarfile.open(target, "w:gz") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.addfile(add, io.BytesIO(payload) if payload else None)


@pytest.mark.parametrize(
    "name,kind",
    [
        ("../escape.txt", tarfile.REGTYPE),
        ("/tmp/absolute.txt", tarfile.REGTYPE),
        ("runs/link", tarfile.SYMTYPE),
        ("inputs/hard", tarfile.LNKTYPE),
    ],
)
def test_unsafe_members_fail_and_nothing_is_written(
    period: Path, keys: Path, tmp_path: Path, name: str, kind: bytes
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    payload = b""
    if kind == tarfile.REGTYPE:
        payload = b"owned\n"
        info.size = len(payload)
    else:
        info.linkname = "/etc/passwd"
    target = tmp_path / "work" / "hostile.tar.gz"
    target.parent.mkdir()
    _hostile(target, period, info, payload)
    before = sorted(p for p in tmp_path.rglob("*"))
    outcome = cli(
        [
            "bundle",
            "verify",
            str(target),
            "--pubkey",
            str(keys / "signing.key.pub"),
            "--extract",
            str(tmp_path / "work" / "out"),
        ]
    )
    assert outcome.code == 1 and "archive" in outcome.stdout, outcome.output
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert not Path("/tmp/absolute.txt").exists()


def test_verify_extracts_only_a_verified_bundle(period: Path, keys: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    outcome = cli(
        [
            "bundle",
            "verify",
            str(period),
            "--pubkey",
            str(keys / "signing.key.pub"),
            "--extract",
            str(out),
        ]
    )
    assert outcome.code == 0, outcome.output
    assert (out / layout.MANIFEST).is_file() and (out / layout.RECORDS).is_file()


def test_bundle_create_refuses_without_a_key(history: Project, tmp_path: Path) -> None:
    outcome = cli(["bundle", "create", "-o", str(tmp_path / "x.tar.gz")])
    assert outcome.code == 2 and "no signing key" in outcome.output
    assert not (tmp_path / "x.tar.gz").exists()


def test_an_artifact_changed_since_the_run_is_refused(
    history: Project, keys: Path, tmp_path: Path
) -> None:
    history.scan("CVE-9")  # staging-6 judged a clean scan
    out = tmp_path / "x.tar.gz"
    outcome = create(keys, out, "--run", "staging-6")
    assert outcome.code == 2 and "scan.json" in outcome.output, outcome.output
    assert not out.exists()
    assert create(keys, out, "--run", "staging-6", "--digests-only").code == 0


def _resign(bundle: Path, change: dict[str, bytes], key: Path, target: Path) -> None:
    """The bundle with members changed and everything re-signed with ``key``: manifest,
    statement and envelope consistent, as only the key's holder could make them."""
    files = members(bundle)
    files.update(change)
    manifest = json.loads(files[layout.MANIFEST])
    for row in manifest["members"]:
        row["sha256"] = hashlib.sha256(files[row["name"]]).hexdigest()
    files[layout.MANIFEST] = layout.pretty_json(manifest)
    digest = hashlib.sha256(files[layout.MANIFEST]).hexdigest()
    subjects = tuple(
        Subject(name, hashlib.sha256(data).hexdigest())
        for name, data in sorted(files.items())
        if name != layout.ENVELOPE
    )
    statement, _ = open_envelope(files[layout.ENVELOPE], [load_public(Path(f"{key}.pub"))])
    predicate = {**statement.predicate, "manifest": {"name": layout.MANIFEST, "sha256": digest}}
    files[layout.ENVELOPE] = sign_envelope(
        Statement(subjects, statement.predicate_type, predicate), load_private(key)
    )
    write_archive(target, [Member(n, data=d) for n, d in files.items()])


def test_kept_results_that_contradict_the_ledger_fail_even_when_re_signed(
    period: Path, keys: Path, tmp_path: Path
) -> None:
    """An insider with the key rewrites a blocked run's kept results to say compliant: the
    signature holds, the ledger segment does not agree, and verify names the file."""
    files = members(period)
    runs = json.loads(files[layout.MANIFEST])["runs"]
    blocked = next(r for r in runs if r["decision"] == "blocked")
    results = json.loads(files[blocked["evidence"] + "results.json"])
    results["decision"] = "compliant"
    kept = json.loads(files[blocked["evidence"] + "run.json"])
    kept["decision"] = "compliant"
    target = tmp_path / "rewritten.tar.gz"
    change = {
        blocked["evidence"] + "results.json": json.dumps(results).encode(),
        blocked["evidence"] + "run.json": layout.pretty_json(kept),
    }
    _resign(period, change, keys / "signing.key", target)
    outcome = verify(target, keys)
    assert outcome.code == 1, outcome.output
    assert "signature: DSSE envelope signed by trusted key" in outcome.stdout
    assert f"{blocked['evidence']}results.json: says run {blocked['run_id']} compliant" in (
        outcome.stdout
    )
    assert f"{blocked['evidence']}run.json: says run" in outcome.stdout


def test_a_run_assessment_that_is_not_valid_oscal_fails_even_when_re_signed(
    period: Path, keys: Path, tmp_path: Path
) -> None:
    files = members(period)
    name = next(n for n in files if n.endswith("/assessment-results.json"))
    document = json.loads(files[name])
    del document["assessment-results"]["metadata"]
    target = tmp_path / "invalid.tar.gz"
    _resign(period, {name: json.dumps(document).encode()}, keys / "signing.key", target)
    outcome = verify(target, keys)
    assert outcome.code == 1 and f"FAILED: {name}: " in outcome.stdout, outcome.output
