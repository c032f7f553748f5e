"""Hostile and broken artifacts through ``check``: each gives exit 2 or a failed/error policy
with a message naming the file; never a traceback, never a pass, and the other policies'
results are kept."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from producer_shapes import bandit_style_sarif

HOSTILE_POLICIES = """\
apiVersion: compliancegate/v1
kind: Policy
id: target-ok
title: The target artifact says ok
controls: [tiny-std:CFG-1]
severity: high
input: {glob: "**/target*"}
rule: {path: ok, op: equals, value: true}
---
apiVersion: compliancegate/v1
kind: Policy
id: other-evidence
title: The other evidence is fine
controls: [tiny-std:VULN-1]
severity: high
input: {glob: "**/other.json"}
rule: {path: ok, op: equals, value: true}
"""

MB = 1024 * 1024


def _yaml_alias_bomb() -> bytes:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    return ("\n".join(lines) + "\nok: true\n").encode()


XML_ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<target><ok>&lol9;</ok></target>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE target [ <!ENTITY xxe SYSTEM "file:///etc/hostname"> ]>
<target><ok>&xxe;</ok></target>
"""


def _binary_garbage() -> bytes:
    data = bytearray(random.Random(1234).randbytes(8192))
    data[100] = 0  # always binary, whatever the seed gives
    return bytes(data)


def _fifty_mb_json_string() -> bytes:
    return b'"' + b"a" * (50 * MB) + b'"'


def _fifty_mb_garbage() -> bytes:
    return b"\x01garbage!" * (5 * MB)


# name -> (file name, content factory, words the message must contain)
CASES: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "truncated-json": ("target.json", lambda: b'{"ok": true, "items": [1, 2', "truncated JSON"),
    "yaml-alias-bomb": ("target.yaml", _yaml_alias_bomb, "alias bomb"),
    "xml-entity-bomb": ("target.xml", lambda: XML_ENTITY_BOMB, "hostile XML"),
    "xml-xxe": ("target.xml", lambda: XXE, "hostile XML"),
    "50mb-json-string": ("target.json", _fifty_mb_json_string, "ok equals true"),
    "50mb-garbage": ("target.json", _fifty_mb_garbage, "invalid JSON"),
    "binary-as-json": ("target.json", _binary_garbage, "binary"),
    "deep-json": ("target.json", lambda: b"[" * 100_000, "nesting"),
    "deep-json-closed": ("target.json", lambda: b"[" * 100_000 + b"]" * 100_000, "nesting"),
    "deep-yaml-flow": ("target.yaml", lambda: b"[" * 100_000, "nesting"),
    "deep-yaml-block": ("target.yaml", lambda: b"- " * 100_000 + b"x", "nesting"),
    "deep-xml": ("target.xml", lambda: b"<a>" * 100_000 + b"</a>" * 100_000, "nesting"),
    "deep-toml": ("target.toml", lambda: b"a = " + b"[" * 100_000, "nesting"),
    "invalid-utf8": ("target.json", lambda: b'{"ok": "\xff\xfe"}', "UTF-8"),
    "empty-json": ("target.json", lambda: b"", "empty"),
    "whitespace-json": ("target.json", lambda: b"  \n\n ", "empty"),
    "yaml-tabs": ("target.yaml", lambda: b"ok:\n\t- true\n", "invalid YAML"),
    "invalid-toml": ("target.toml", lambda: b"ok = [true,\n", "invalid TOML"),
    "invalid-xml": ("target.xml", lambda: b"<target><ok>true</ok>", "invalid XML"),
}


@pytest.fixture
def hostile_project(gate_project: Any, gate_snippets: Any) -> Any:
    """The tiny project with only the hostile-target policies, and a good ``other.json``."""
    (gate_project.root / "policies/gate.yaml").unlink()
    (gate_project.root / "release/scan.json").unlink()
    (gate_project.root / "release/deploy.yaml").unlink()
    gate_project.write("policies/hostile.yaml", HOSTILE_POLICIES)
    gate_project.write("release/other.json", '{"ok": true}')
    return gate_project


def run_hostile(cg: Any, *extra: str) -> tuple[Any, dict[str, Any]]:
    outcome = cg("check", "release", "--no-ledger", "--format", "json", *extra)
    assert "Traceback" not in outcome.output
    assert "internal error" not in outcome.output
    assert outcome.code in (1, 2), outcome.output
    document = outcome.json()
    assert document["decision"] != "compliant"
    assert outcome.code == (2 if document["decision"] == "error" else 1)
    results = {r["policy"]["id"]: r for r in document["results"]}
    # The rest of the run's results are kept.
    assert results["other-evidence"]["status"] == "pass"
    return outcome, results["target-ok"]


def said(result: dict[str, Any]) -> str:
    """Everything a result tells the user: its error and its violations."""
    parts = [result["error"] or ""]
    for violation in result["violations"]:
        parts.append(violation["message"])
        parts.append(str(violation["location"]["file"]))
    return "\n".join(parts)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_artifact(hostile_project: Any, cg_inprocess: Any, case: str) -> None:
    cg = cg_inprocess
    name, content, words = CASES[case]
    hostile_project.write(f"release/{name}", content())
    _, result = run_hostile(cg)
    assert result["status"] in ("fail", "error")
    text = said(result)
    assert f"release/{name}" in text
    assert words in text


def test_directory_named_like_an_artifact(hostile_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    (hostile_project.root / "release/target.json").mkdir()
    _, result = run_hostile(cg)
    assert result["status"] == "fail"
    assert "missing evidence" in said(result)


@pytest.mark.parametrize("content", ["", "# only a comment\n", "---\n...\n"])
def test_yaml_without_documents_is_not_a_pass(
    hostile_project: Any, cg_inprocess: Any, content: str
) -> None:
    hostile_project.write("release/target.yaml", content)
    _, result = run_hostile(cg_inprocess)
    assert result["status"] == "fail"
    assert "missing evidence" in said(result)


def test_directory_named_like_an_artifact_given_as_path(hostile_project: Any, cg: Any) -> None:
    (hostile_project.root / "release/target.json").mkdir()
    (hostile_project.root / "release/target.json/inner.txt").write_text("x")
    outcome = cg(
        "check", "release/target.json", "release/other.json", "--no-ledger", "--format", "json"
    )
    assert "Traceback" not in outcome.output
    assert outcome.code == 1, outcome.output
    results = {r["policy"]["id"]: r for r in outcome.json()["results"]}
    assert results["target-ok"]["status"] == "fail"
    assert "missing evidence" in said(results["target-ok"])


def test_dangling_symlink(hostile_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    os.symlink(hostile_project.root / "nowhere.json", hostile_project.root / "release/target.json")
    _, result = run_hostile(cg)
    assert result["status"] == "error"
    assert "release/target.json" in said(result)


def test_symlink_loop(hostile_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    link = hostile_project.root / "release/target.json"
    os.symlink(link, link)
    _, result = run_hostile(cg)
    assert result["status"] == "error"
    assert "release/target.json" in said(result)


def test_unreadable_file(hostile_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode (dangling symlink covers this)")
    path = hostile_project.write("release/target.json", '{"ok": true}')
    path.chmod(0)
    try:
        _, result = run_hostile(cg)
    finally:
        path.chmod(0o644)
    assert result["status"] == "error"
    assert "permission denied" in said(result)


def test_size_limit_from_config(hostile_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    hostile_project.write(
        "compliancegate.yaml",
        "apiVersion: compliancegate/v1\nkind: Config\nlimits: {max_artifact_bytes: 1000}\n",
    )
    hostile_project.write("release/target.json", '{"ok": true, "pad": "' + "x" * 2048 + '"}')
    _, result = run_hostile(cg)
    assert result["status"] == "error"
    text = said(result)
    assert "release/target.json" in text
    assert "1,000-byte artifact limit" in text


def test_size_limit_lets_smaller_files_through(hostile_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    hostile_project.write(
        "compliancegate.yaml",
        "apiVersion: compliancegate/v1\nkind: Config\nlimits: {max_artifact_bytes: 1000}\n",
    )
    hostile_project.write("release/target.json", '{"ok": true}')
    outcome = cg("check", "release", "--no-ledger")
    assert outcome.code == 0, outcome.output


def test_hostile_file_in_text_output_is_named(hostile_project: Any, cg: Any) -> None:
    hostile_project.write("release/target.xml", XXE)
    outcome = cg("check", "release", "--no-ledger")
    assert outcome.code == 2
    assert "Traceback" not in outcome.output
    assert "release/target.xml" in outcome.stdout
    assert "ERROR" in outcome.stdout
    # The XXE payload never reaches the output.
    hostname = Path("/etc/hostname")
    if hostname.is_file():
        secret = hostname.read_text(encoding="utf-8").strip()
        if len(secret) > 3:
            assert secret not in outcome.stdout.replace("release/target.xml", "")


def test_parse_command_on_hostile_files(hostile_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    for case in ("truncated-json", "xml-entity-bomb", "yaml-alias-bomb", "deep-yaml-block"):
        name, content, words = CASES[case]
        path = hostile_project.write(f"release/{name}", content())
        outcome = cg("parse", f"release/{name}")
        assert outcome.code == 2, (case, outcome.output)
        assert "Traceback" not in outcome.output
        assert f"release/{name}" in outcome.stderr
        assert words in outcome.stderr
        path.unlink()


def test_every_hostile_artifact_in_one_subprocess_run(
    hostile_project: Any, cg_subprocess: Any
) -> None:
    """The cases above in a real process (where a C-level crash, such as a stack overflow
    in a parser, shows as a signal instead of killing the test run), in one run."""
    names = []
    for case, (name, content, _) in sorted(CASES.items()):
        stem, suffix = name.split(".")
        hostile_name = f"{stem}-{case}.{suffix}"
        hostile_project.write(f"release/{hostile_name}", content())
        names.append(hostile_name)
    os.symlink(
        hostile_project.root / "gone.json", hostile_project.root / "release/target-link.json"
    )
    loop = hostile_project.root / "release/target-loop.json"
    os.symlink(loop, loop)
    (hostile_project.root / "release/target-dir.json").mkdir()
    outcome = cg_subprocess(
        ["check", "release", "--no-ledger", "--format", "json"], hostile_project.root
    )
    assert outcome.code == 2, outcome.output
    assert "Traceback" not in outcome.output
    document = outcome.json()
    assert document["decision"] == "error"
    results = {r["policy"]["id"]: r for r in document["results"]}
    assert results["other-evidence"]["status"] == "pass"
    target = results["target-ok"]
    assert target["status"] == "error"
    text = said(target)
    for name in [*names, "target-link.json", "target-loop.json"]:
        assert f"release/{name}" in text, name
    parsed = cg_subprocess(["parse", "release/target-deep-yaml-block.yaml"], hostile_project.root)
    assert parsed.code == 2
    assert "nesting" in parsed.stderr
    assert "Traceback" not in parsed.output


# ------------------------------------------------------------------ issue 8: reading rules

KIND_POLICIES = """\
apiVersion: compliancegate/v1
kind: Policy
id: no-error-findings
title: No error-level finding
controls: [tiny-std:CFG-1]
severity: high
input: findings
rule:
  for_each: "findings[]"
  where: {path: level, op: equals, value: error}
  assert: {path: rule_id, op: absent}
key: rule_id
message: "{item.rule_id} in {item.file}"
---
apiVersion: compliancegate/v1
kind: Policy
id: no-critical-vulnerabilities
title: No critical vulnerability
controls: [tiny-std:VULN-1]
severity: high
input: vulnerabilities
rule:
  for_each: "vulnerabilities[]"
  where: {path: severity, op: equals, value: critical}
  assert: {path: id, op: absent}
key: id
message: "{item.id} in {item.package}"
---
apiVersion: compliancegate/v1
kind: Policy
id: other-evidence
title: The other evidence is fine
controls: [tiny-std:VULN-1]
severity: high
input: {glob: "**/other.json"}
rule: {path: ok, op: equals, value: true}
"""

CLEAN_SARIF = {
    "version": "2.1.0",
    "runs": [{"tool": {"driver": {"name": "semgrep"}}, "results": []}],
}
CLEAN_TRIVY = {"SchemaVersion": 2, "ArtifactName": "app", "Results": []}


@pytest.fixture
def kind_project(gate_project: Any) -> Any:
    """Policies on the ``findings`` and ``vulnerabilities`` kinds, a clean report of each
    kind from another tool (so that a report that vanishes leaves no missing evidence), and
    a good ``other.json``."""
    (gate_project.root / "policies/gate.yaml").unlink()
    (gate_project.root / "release/scan.json").unlink()
    (gate_project.root / "release/deploy.yaml").unlink()
    gate_project.write("policies/kinds.yaml", KIND_POLICIES)
    gate_project.write("release/other.json", '{"ok": true}')
    gate_project.write("release/semgrep.sarif", json.dumps(CLEAN_SARIF))
    gate_project.write("release/trivy-base.json", json.dumps(CLEAN_TRIVY))
    return gate_project


def run_kinds(cg: Any) -> tuple[int, dict[str, dict[str, Any]], str]:
    outcome = cg("check", "release", "--no-ledger", "--format", "json")
    assert "Traceback" not in outcome.output
    assert "internal error" not in outcome.output
    assert outcome.code in (1, 2), outcome.output
    document = outcome.json()
    assert document["decision"] != "compliant"
    results = {r["policy"]["id"]: r for r in document["results"]}
    assert results["other-evidence"]["status"] == "pass"
    return outcome.code, results, outcome.output


def test_large_reports_with_markers_last_are_read(kind_project: Any, cg_inprocess: Any) -> None:
    """Bandit's SARIF (version and $schema last) and a jq -S sorted Trivy report, both over
    64 KiB, beside clean reports of the same kinds: their findings block."""
    kind_project.write("release/bandit.json", json.dumps(bandit_style_sarif(400), indent=2))
    vulnerabilities = [
        {"VulnerabilityID": f"CVE-2026-{i:04d}", "PkgName": f"p{i}", "Severity": "LOW"}
        for i in range(600)
    ]
    vulnerabilities.append(
        {"VulnerabilityID": "CVE-2026-9999", "PkgName": "openssl", "Severity": "CRITICAL"}
    )
    report = {
        "SchemaVersion": 2,
        "ArtifactName": "app",
        "Results": [{"Target": "app", "Class": "os-pkgs", "Vulnerabilities": vulnerabilities}],
    }
    kind_project.write("release/trivy.json", json.dumps(report, sort_keys=True, indent=2))
    assert (kind_project.root / "release/trivy.json").stat().st_size > 64 * 1024
    code, results, _ = run_kinds(cg_inprocess)
    assert code == 1
    findings = results["no-error-findings"]
    assert findings["status"] == "fail"
    assert len(findings["violations"]) >= 1
    assert "B602 in app/mod0.py" in said(findings)
    vulns = results["no-critical-vulnerabilities"]
    assert vulns["status"] == "fail"
    assert "CVE-2026-9999" in said(vulns)


def _log(run: dict[str, Any]) -> str:
    return json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, **run}]})


_FAILED_RUN = {
    "invocations": [
        {
            "executionSuccessful": False,
            "toolExecutionNotifications": [
                {"level": "error", "message": {"text": "could not parse app.py"}}
            ],
        }
    ],
    "results": [],
}


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("scan.sarif", '{"version": "2.0.0", "runs": []}', "version is '2.0.0'"),
        ("scan.sarif", '{"runs": [{"tool": {"driver": {"name": "x"}}, "results": [', "truncated"),
        (
            "report.json",
            '{"runs": [{"tool": {"driver": {}}, "results": []}]}',
            "version is missing",
        ),
        ("scan.sarif", _log(_FAILED_RUN), "could not parse app.py"),
        (
            "scan.sarif",
            _log({"results": [{"level": "error"}]}).replace('"error"', '"error", "level": "note"'),
            "duplicate key",
        ),
        ("scan.sarif", _log({"properties": {"score": 1}}).replace("1}", "NaN}"), "NaN"),
    ],
)
def test_a_report_that_cannot_be_read_is_an_error(
    kind_project: Any, cg_inprocess: Any, name: str, content: str, words: str
) -> None:
    kind_project.write(f"release/{name}", content)
    code, results, _ = run_kinds(cg_inprocess)
    assert code == 2
    findings = results["no-error-findings"]
    assert findings["status"] == "error"
    assert f"release/{name}" in said(findings)
    assert words in said(findings)


def test_fifo_and_device_in_the_release(kind_project: Any, cg_subprocess: Any) -> None:
    """A FIFO in the release (check used to hang on it) is an error for the policies that
    could have read it; a real process under a timeout."""
    os.mkfifo(kind_project.root / "release/scan.sarif")
    outcome = cg_subprocess(
        ["check", "release", "--no-ledger", "--format", "json"], kind_project.root
    )
    assert outcome.code == 2, outcome.output
    results = {r["policy"]["id"]: r for r in outcome.json()["results"]}
    assert results["no-error-findings"]["status"] == "error"
    assert "release/scan.sarif" in said(results["no-error-findings"])
    assert "FIFO" in said(results["no-error-findings"])
    assert results["other-evidence"]["status"] == "pass"
    parsed = cg_subprocess(["parse", "release/scan.sarif"], kind_project.root)
    assert parsed.code == 2
    assert "FIFO" in parsed.stderr
    device = cg_subprocess(["parse", "/dev/zero"], kind_project.root)
    assert device.code == 2
    assert "character device" in device.stderr


def test_a_link_out_of_the_release_is_never_printed(
    kind_project: Any, cg_inprocess: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    secret_folder = tmp_path_factory.mktemp("elsewhere")
    secret = secret_folder / "secret.json"
    secret.write_text('{"ok": "S3CRET-TOKEN-VALUE", "runs": []}', encoding="utf-8")
    os.symlink(secret, kind_project.root / "release/scan.sarif")
    code, results, output = run_kinds(cg_inprocess)
    assert code == 2
    assert "S3CRET" not in output
    assert "leading out of the release" in said(results["no-error-findings"])
    parsed = cg_inprocess("parse", "release/scan.sarif")
    assert parsed.code == 2
    assert "S3CRET" not in parsed.output
    assert "leading out of the release" in parsed.stderr


def test_a_duplicate_severity_is_an_error_naming_the_line(
    kind_project: Any, cg_inprocess: Any
) -> None:
    kind_project.write(
        "release/trivy.json",
        '{"SchemaVersion": 2, "ArtifactName": "app", "Results": [{"Target": "app",\n'
        '"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "openssl",\n'
        '"Severity": "CRITICAL", "Severity": "LOW"}]}]}',
    )
    code, results, _ = run_kinds(cg_inprocess)
    assert code == 2
    text = said(results["no-critical-vulnerabilities"])
    assert 'duplicate key "Severity"' in text
    assert results["no-critical-vulnerabilities"]["status"] == "error"


def test_parse_prints_a_lone_surrogate_escaped(kind_project: Any, cg: Any) -> None:
    kind_project.write(
        "release/trivy.json",
        '{"SchemaVersion": 2, "ArtifactName": "app", "Results": [{"Target": "a\\udcff",'
        '"Vulnerabilities": [{"VulnerabilityID": "CVE-1\\ud800", "Severity": "HIGH"}]}]}',
    )
    outcome = cg("parse", "release/trivy.json")
    assert outcome.code == 0, outcome.output
    assert "CVE-1\\ud800" in outcome.stdout
