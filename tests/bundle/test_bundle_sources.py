"""Where a bundle's contents come from: the evidence ``check`` keeps (inputs as read, not as
the files are later; a free-text run id that never chooses a path; kept files that were
tampered with), a git ledger read on another machine, and the command line's refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ledger_project import Project, cli, cli_subprocess, day, git

from compliancegate.bundle import layout
from compliancegate.bundle.archive import scan_archive
from compliancegate.bundle.evidence import RUNS_DIR, run_folder_name


def _env(keys: Path) -> dict[str, str]:
    return {"COMPLIANCEGATE_SIGNING_KEY_FILE": str(keys / "signing.key")}


def _files(bundle: Path) -> dict[str, bytes]:
    return {m.name: m.data or b"" for m in scan_archive(bundle, keep=lambda name: True)}


def test_inputs_are_the_bytes_the_run_read(project: Project, keys: Path, tmp_path: Path) -> None:
    judged = (project.root / "policies" / "gate.yaml").read_bytes()
    assert cli(["check", "--env", "staging", "--run-id", "r1"], now=day(0), **_env(keys)).code == 0
    # A later commit rewrites the policy: the bundle still carries what r1 evaluated.
    (project.root / "policies" / "gate.yaml").write_text("# weakened\n", encoding="utf-8")
    out = tmp_path / "b.tar.gz"
    made = cli(["bundle", "create", "--run", "r1", "-o", str(out)], **_env(keys))
    assert made.code == 0, made.output
    files = _files(out)
    kept = json.loads(files[f"runs/r1/{layout.RUN_FILE}"])
    (policy,) = [i for i in kept["inputs"] if i["path"].endswith("/gate.yaml")]
    assert policy["role"] == "policies"
    assert files[policy["member"]] == judged


@pytest.mark.parametrize("run_id", ["../../escape", "a/b", ".hidden", "x" * 300, "ünïcode id"])
def test_a_free_text_run_id_never_chooses_a_path(
    project: Project, keys: Path, tmp_path: Path, state: Path, run_id: str
) -> None:
    outcome = cli(["check", "--env", "staging", "--run-id", run_id], now=day(0), **_env(keys))
    assert outcome.code == 0, outcome.output
    folders = [p.name for p in (state / RUNS_DIR).iterdir()]
    assert folders == [run_folder_name(run_id)] and folders[0].startswith("id-")
    assert not (tmp_path / "escape").exists()
    out = tmp_path / "b.tar.gz"
    assert cli(["bundle", "create", "--run", run_id, "-o", str(out)], **_env(keys)).code == 0
    verified = cli(["bundle", "verify", str(out), "--pubkey", str(keys / "signing.key.pub")])
    assert verified.code == 0, verified.output


def test_kept_evidence_that_disagrees_with_the_ledger_is_refused(
    project: Project, keys: Path, tmp_path: Path, state: Path
) -> None:
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging", "--run-id", "r1"], now=day(0), **_env(keys)).code == 1
    run_json = state / RUNS_DIR / "r1" / "run.json"
    document = json.loads(run_json.read_text())
    document["decision"] = "compliant"
    run_json.write_text(json.dumps(document))
    out = tmp_path / "b.tar.gz"
    outcome = cli(
        ["bundle", "create", "--run", "r1", "-o", str(out), "--digests-only"], **_env(keys)
    )
    assert outcome.code == 2 and "not this run's" in outcome.output, outcome.output
    assert not out.exists()


def test_a_kept_file_changed_in_the_state_directory_is_refused(
    project: Project, keys: Path, tmp_path: Path, state: Path
) -> None:
    assert cli(["check", "--env", "staging", "--run-id", "r1"], now=day(0), **_env(keys)).code == 0
    for kept in (state / "blobs").iterdir():
        kept.write_bytes(kept.read_bytes() + b"# appended\n")
        break
    out = tmp_path / "b.tar.gz"
    outcome = cli(
        ["bundle", "create", "--run", "r1", "-o", str(out), "--digests-only"], **_env(keys)
    )
    assert outcome.code == 2 and "changed" in outcome.output, outcome.output
    assert not out.exists()


def test_no_ledger_keeps_nothing_and_a_failure_to_keep_is_a_notice(
    project: Project, keys: Path, state: Path
) -> None:
    assert cli(["check", "--env", "staging", "--no-ledger"], now=day(0)).code == 0
    assert not (state / RUNS_DIR).exists()
    state.mkdir(parents=True, exist_ok=True)
    (state / RUNS_DIR).write_text("not a folder")
    outcome = cli(["check", "--env", "staging", "--format", "json"], now=day(1))
    assert outcome.code == 0, outcome.output
    codes = [n["code"] for n in json.loads(outcome.stdout)["notices"]]
    assert "evidence-not-kept" in codes


def test_a_period_bundle_of_a_git_ledger_made_on_another_machine(
    project: Project, keys: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(remote), cwd=tmp_path)
    ledger = f"git:{remote}#ledger"
    for n, critical in enumerate([("CVE-1",), (), ("CVE-2",)]):
        project.scan(*critical)
        outcome = cli(
            ["check", "--env", "staging", "--ledger", ledger, "--run-id", f"r{n}"],
            now=day(n),
            **_env(keys),
        )
        assert outcome.code in (0, 1), outcome.output
    # The auditor's machine: another state directory, so no kept evidence, and a subprocess.
    other = tmp_path / "auditor"
    other.mkdir()
    out = tmp_path / "period.tar.gz"
    made = cli_subprocess(
        ["bundle", "create", "--ledger", ledger, "--since", "2026-03-01", "-o", str(out)],
        other,
        now=day(10),
        COMPLIANCEGATE_STATE_DIR=str(other / "state"),
        HOME=str(other),
        **_env(keys),
    )
    assert made.code == 0, made.output
    assert "3 run(s) ran elsewhere" in made.stderr
    manifest = json.loads(_files(out)[layout.MANIFEST])
    assert [r["evidence"] for r in manifest["runs"]] == [None, None, None]
    assert manifest["ledger"]["location"] == ledger
    verified = cli_subprocess(
        ["bundle", "verify", str(out), "--pubkey", str(keys / "signing.key.pub")], other
    )
    assert verified.code == 0, verified.output


@pytest.mark.parametrize(
    "args,words",
    [
        (["--run", "r1", "--since", "2026-01-01"], "contradict"),
        (["--since", "2026-04-01", "--until", "2026-03-01"], "after"),
        (["--since", "yesterday"], "not an ISO 8601"),
        (["--run", "nope"], "not in the ledger"),
        (["--since", "2030-01-01"], "no ledger record"),
        (["--run", ""], "empty"),
    ],
)
def test_create_refuses_what_it_cannot_bundle(
    project: Project, keys: Path, tmp_path: Path, args: list[str], words: str
) -> None:
    assert cli(["check", "--env", "staging", "--run-id", "r1"], now=day(0), **_env(keys)).code == 0
    out = tmp_path / "b.tar.gz"
    outcome = cli(["bundle", "create", "-o", str(out), *args], **_env(keys))
    assert outcome.code == 2 and words in outcome.output, outcome.output
    assert "Traceback" not in outcome.output
    assert not out.exists()


def test_verify_and_show_refuse_what_is_not_a_bundle(
    project: Project, keys: Path, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(os.urandom(4096))
    for args in (
        ["bundle", "verify", str(garbage), "--pubkey", str(keys / "signing.key.pub")],
        ["bundle", "show", str(garbage)],
    ):
        outcome = cli(args)
        assert outcome.code in (1, 2) and "Traceback" not in outcome.output, outcome.output
        assert "garbage.tar.gz" in outcome.output or "gzip" in outcome.output, outcome.output
    missing = cli(
        [
            "bundle",
            "verify",
            str(tmp_path / "none.tar.gz"),
            "--pubkey",
            str(keys / "signing.key.pub"),
        ]
    )
    assert missing.code == 2 and "does not exist" in missing.output
    no_key = cli(["bundle", "verify", str(garbage), "--pubkey", str(tmp_path / "none.pub")])
    assert no_key.code == 2


def test_a_run_id_used_twice_bundles_both_records_and_the_later_evidence(
    project: Project, keys: Path, tmp_path: Path
) -> None:
    """A retried job records a second run under the same id: both records are in the
    bundle, the kept evidence (the later run's) only with the later one, and it verifies."""
    project.scan("CVE-1")
    assert (
        cli(["check", "--env", "staging", "--run-id", "job-7"], now=day(0), **_env(keys)).code == 1
    )
    project.scan()
    assert (
        cli(["check", "--env", "staging", "--run-id", "job-7"], now=day(1), **_env(keys)).code == 0
    )
    out = tmp_path / "b.tar.gz"
    made = cli(["bundle", "create", "--run", "job-7", "-o", str(out)], **_env(keys))
    assert made.code == 0, made.output
    runs = json.loads(_files(out)[layout.MANIFEST])["runs"]
    assert [(r["decision"], r["evidence"]) for r in runs] == [
        ("blocked", None),
        ("compliant", "runs/job-7/"),
    ]
    verified = cli(["bundle", "verify", str(out), "--pubkey", str(keys / "signing.key.pub")])
    assert verified.code == 0, verified.output


@pytest.mark.parametrize(
    "manifest",
    [b"[" * 200_000 + b"]" * 200_000, b'{"ledger": 5}', b'{"a": 1, "a": 2}', b"[]", b"NaN"],
)
def test_show_refuses_a_malformed_bundle_with_a_message(tmp_path: Path, manifest: bytes) -> None:
    from compliancegate.bundle.archive import Member, write_archive

    bundle = tmp_path / "hostile.tar.gz"
    write_archive(
        bundle,
        [
            Member(layout.MANIFEST, data=manifest),
            Member(layout.TIMELINES, data=b'{"findings": []}'),
        ],
    )
    outcome = cli(["bundle", "show", str(bundle)])
    assert outcome.code == 2, outcome.output
    assert "hostile.tar.gz" in outcome.output and "internal error" not in outcome.output


def test_the_file_an_evidence_sidecar_attests_is_in_a_full_bundle(
    keys: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example release attests a penetration-test letter with a sidecar: the letter is
    hashed to check the sidecar, so the bundle carries it (not only the sidecar)."""
    import shutil

    from cli_runs import run_in_process

    repo = Path(__file__).resolve().parents[2]
    work = tmp_path / "work"
    for folder in ("examples", "policies", "registers"):
        shutil.copytree(repo / folder, work / folder, ignore=shutil.ignore_patterns(".*"))
    monkeypatch.chdir(work)
    env = {"NO_COLOR": "1", "COMPLIANCEGATE_NOW": None, **_env(keys)}
    checked = run_in_process(
        ["check", "--config", "examples/compliancegate.yaml", "--run-id", "ex1"], env
    )
    assert checked.code in (0, 1), checked.output
    out = tmp_path / "ex.tar.gz"
    made = run_in_process(["bundle", "create", "--run", "ex1", "-o", str(out)], env)
    assert made.code == 0, made.output
    files = _files(out)
    kept = json.loads(files["runs/ex1/run.json"])
    (letter,) = [a for a in kept["artifacts"] if a["path"].endswith("/PT-2026-02-letter.txt")]
    assert files[letter["member"]] == (work / letter["path"]).read_bytes()
