"""docs/bundles.md's by-hand verification, run as written (bash, OpenSSL 3, jq, sha256sum):
it accepts a genuine bundle and catches a changed file and a foreign signature, so the page
an auditor follows without the vendor's tool is true."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ledger_project import Project, cli, day

from compliancegate.bundle.archive import Member, scan_archive, write_archive

DOC = Path(__file__).resolve().parents[2] / "docs" / "bundles.md"
TOOLS = ("bash", "openssl", "jq", "sha256sum", "tar", "base64")

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS), reason="needs " + ", ".join(TOOLS)
)


def _script() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### By hand", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def _run(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", _script()],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def folder(project: Project, keys: Path, tmp_path: Path) -> Path:
    env = {"COMPLIANCEGATE_SIGNING_KEY_FILE": str(keys / "signing.key")}
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging", "--run-id", "r0"], now=day(0), **env).code == 1
    project.scan()
    assert cli(["check", "--env", "staging", "--run-id", "r1"], now=day(1), **env).code == 0
    work = tmp_path / "auditor"
    work.mkdir()
    made = cli(["bundle", "create", "--run", "r1", "-o", str(work / "evidence.tar.gz")], **env)
    assert made.code == 0, made.output
    shutil.copy(keys / "signing.key.pub", work / "signing.key.pub")
    return work


def test_the_documented_steps_verify_a_genuine_bundle(folder: Path) -> None:
    done = _run(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature Verified Successfully" in done.stdout
    assert "BROKEN" not in done.stdout
    last = re.search(r"last record: (\w+); the manifest says (\w+)", done.stdout)
    assert last is not None and last.group(1) == last.group(2)
    manifest_lines = [line for line in done.stdout.splitlines() if len(line.split()[0]) == 64]
    assert len({line.split()[0] for line in manifest_lines}) == 1  # step 4: the same digest


def test_the_documented_steps_catch_a_changed_file(folder: Path) -> None:
    bundle = folder / "evidence.tar.gz"
    files = {m.name: m.data or b"" for m in scan_archive(bundle, keep=lambda name: True)}
    files["ledger/records.jsonl"] = files["ledger/records.jsonl"].replace(b"r1", b"r9", 1)
    bundle.unlink()
    write_archive(bundle, [Member(name, data=data) for name, data in files.items()])
    done = _run(folder)
    assert done.returncode != 0 and "records.jsonl: FAILED" in done.stdout, done.stdout


def test_the_documented_steps_catch_a_foreign_key(folder: Path, keys: Path) -> None:
    shutil.copy(keys / "other.key.pub", folder / "signing.key.pub")
    done = _run(folder)
    assert done.returncode != 0
    assert "Signature Verified Successfully" not in done.stdout
