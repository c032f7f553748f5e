"""``parse``, ``policy validate``, ``policy test``, ``register validate``, ``init`` and
``--version``, in-process and as a subprocess; and each artifact parsed once per run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- parse


def test_parse_json(gate_project: Any, cg: Any, gate_snippets: Any) -> None:
    outcome = cg("parse", "release/scan.json")
    assert outcome.code == 0, outcome.output
    assert outcome.json() == gate_snippets.clean_scan


def test_parse_yaml_multi_document_is_a_list(gate_project: Any, cg: Any) -> None:
    gate_project.write("m.yaml", "a: 1\n---\nb: [x, 'y']\n---\n# empty document\n---\non: push\n")
    outcome = cg("parse", "m.yaml")
    assert outcome.code == 0, outcome.output
    # YAML 1.2: `on` stays a string key.
    assert outcome.json() == [{"a": 1}, {"b": ["x", "y"]}, {"on": "push"}]


def test_parse_yaml_single_document_is_the_document(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    gate_project.write("one.yml", "---\nreleased: 2026-01-02\nversion: 1.10\n")
    outcome = cg("parse", "one.yml")
    assert outcome.code == 0, outcome.output
    assert outcome.json() == {"released": "2026-01-02", "version": 1.1}


def test_parse_toml_dates_become_iso_strings(gate_project: Any, cg: Any) -> None:
    gate_project.write(
        "c.toml",
        '[server]\nname = "api"\nday = 2026-01-02\nat = 1979-05-27T07:32:00Z\n'
        "local = 1979-05-27T07:32:00\ntime = 07:32:00\nports = [80, 443]\n",
    )
    outcome = cg("parse", "c.toml")
    assert outcome.code == 0, outcome.output
    assert outcome.json() == {
        "server": {
            "name": "api",
            "day": "2026-01-02",
            "at": "1979-05-27T07:32:00+00:00",
            "local": "1979-05-27T07:32:00",
            "time": "07:32:00",
            "ports": [80, 443],
        }
    }


def test_parse_xml_convention(gate_project: Any, cg: Any) -> None:
    gate_project.write(
        "d.xml",
        '<?xml version="1.0"?>\n'
        '<r:root xmlns:r="urn:r" xmlns="urn:x" xmlns:p="urn:p" v="1">'
        '<item p:id="a">x</item><item id="b"/><one>t</one><empty/>'
        "<!-- a comment --></r:root>",
    )
    outcome = cg("parse", "d.xml")
    assert outcome.code == 0, outcome.output
    assert outcome.json() == {
        "root": {
            "@v": "1",
            "item": [{"@id": "a", "#text": "x"}, {"@id": "b"}],
            "one": "t",
            "empty": None,
        }
    }


def test_parse_detects_json_without_a_suffix(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    gate_project.write("noext", '  {"k": [1, 2]}')
    outcome = cg("parse", "noext")
    assert outcome.code == 0, outcome.output
    assert outcome.json() == {"k": [1, 2]}


def test_parse_format_flag_forces_the_format(gate_project: Any, cg: Any) -> None:
    gate_project.write("data.txt", "a: 1\nb: two\n")
    undetected = cg("parse", "data.txt")
    assert undetected.code == 2
    assert "data.txt" in undetected.stderr
    outcome = cg("parse", "data.txt", "--format", "yaml")
    assert outcome.code == 0, outcome.output
    assert outcome.json() == {"a": 1, "b": "two"}
    # Forcing JSON on YAML content is an error naming the file, not a guess.
    forced = cg("parse", "data.txt", "--format", "json")
    assert forced.code == 2
    assert "data.txt" in forced.stderr
    assert "Traceback" not in forced.output


def test_parse_unknown_format_exits_2(gate_project: Any, cg: Any) -> None:
    outcome = cg("parse", "release/scan.json", "--format", "bogus")
    assert outcome.code == 2
    assert "bogus" in outcome.stderr
    assert "Traceback" not in outcome.output


@pytest.mark.parametrize("target", ["missing.json", "release"])
def test_parse_missing_file_or_directory_exits_2(
    gate_project: Any, cg_inprocess: Any, target: str
) -> None:
    cg = cg_inprocess
    outcome = cg("parse", target)
    assert outcome.code == 2
    assert target in outcome.stderr
    assert "Traceback" not in outcome.output


# --------------------------------------------------------------------------- policy validate / test


def test_policy_validate(gate_project: Any, cg: Any) -> None:
    outcome = cg("policy", "validate", "policies", "--register", "registers")
    assert outcome.code == 0, outcome.output
    assert "5 policies" in outcome.stdout


def test_policy_validate_without_register_says_controls_unchecked(
    gate_project: Any, cg_inprocess: Any
) -> None:
    cg = cg_inprocess
    outcome = cg("policy", "validate", "policies")
    assert outcome.code == 0, outcome.output
    assert "not checked" in outcome.stdout


def test_policy_validate_rejects_unknown_control(gate_project: Any, cg: Any) -> None:
    text = (gate_project.root / "policies/gate.yaml").read_text(encoding="utf-8")
    gate_project.write("policies/gate.yaml", text.replace("tiny-std:CFG-1", "tiny-std:CFG-9", 1))
    outcome = cg("policy", "validate", "policies", "--register", "registers")
    assert outcome.code == 2
    assert "tiny-std:CFG-9" in outcome.stderr
    assert "images-pinned" in outcome.stderr
    assert "Traceback" not in outcome.output
    # Without the register, the control is not checked.
    assert cg("policy", "validate", "policies").code == 0


def test_policy_validate_rejects_bad_jmespath(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    gate_project.write(
        "bad/p.yaml",
        "apiVersion: compliancegate/v1\nkind: Policy\nid: bad-path\ntitle: Bad\n"
        "controls: [tiny-std:CFG-1]\nseverity: low\ninput: json\n"
        "rule: {path: 'a[?', op: exists}\n",
    )
    outcome = cg("policy", "validate", "bad")
    assert outcome.code == 2
    assert "bad/p.yaml:8" in outcome.stderr
    assert "bad-path" in outcome.stderr
    assert "Traceback" not in outcome.output


def test_policy_validate_rejects_duplicate_ids(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    text = (gate_project.root / "policies/gate.yaml").read_text(encoding="utf-8")
    gate_project.write("policies/copy.yaml", text.split("---")[0])
    outcome = cg("policy", "validate", "policies")
    assert outcome.code == 2
    assert "no-critical-vulns" in outcome.stderr
    assert "duplicate" in outcome.stderr


POLICY_TEST_PASSING = """\
apiVersion: compliancegate/v1
kind: PolicyTest
policy: images-pinned
cases:
  - name: latest tag is a violation
    input:
      spec:
        containers:
          - {name: web, image: "nginx:latest"}
          - {name: db, image: "postgres:16"}
    expect: fail
    violations: ["container web uses nginx:latest"]
  - name: pinned images pass
    input: {spec: {containers: [{name: web, image: "nginx:1.27"}]}}
    expect: pass
  - name: a file input
    input_file: fixtures/deploy.yaml
    expect: fail
    violations: ["container web uses nginx:latest"]
"""

POLICY_TEST_FAILING = """\
apiVersion: compliancegate/v1
kind: PolicyTest
policy: images-pinned
cases:
  - name: claims a latest tag passes
    input: {spec: {containers: [{name: web, image: "nginx:latest"}]}}
    expect: pass
  - name: expects the wrong message
    input: {spec: {containers: [{name: web, image: "nginx:latest"}]}}
    expect: fail
    violations: ["container api uses nginx:latest"]
"""


def test_policy_test_passing_set(gate_project: Any, cg: Any, gate_snippets: Any) -> None:
    gate_project.write("policies/gate.test.yaml", POLICY_TEST_PASSING)
    gate_project.write("policies/fixtures/deploy.yaml", gate_snippets.deploy_latest)
    outcome = cg("policy", "test", "policies", "-v")
    assert outcome.code == 0, outcome.output
    assert "3 passed, 0 failed" in outcome.stdout
    assert "no-critical-vulns has no test cases" in outcome.stdout


def test_policy_test_failing_set(gate_project: Any, cg: Any) -> None:
    gate_project.write("policies/gate.test.yaml", POLICY_TEST_FAILING)
    outcome = cg("policy", "test", "policies")
    assert outcome.code == 1, outcome.output
    assert "0 passed, 2 failed" in outcome.stdout
    assert "FAIL images-pinned :: claims a latest tag passes" in outcome.stdout
    assert "expected pass, got fail" in outcome.stdout
    assert "missing violation: container api uses nginx:latest" in outcome.stdout
    assert "unexpected violation: container web uses nginx:latest" in outcome.stdout


def test_policy_test_naming_unknown_policy_exits_2(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    gate_project.write(
        "policies/gate.test.yaml", POLICY_TEST_PASSING.replace("images-pinned", "nope", 1)
    )
    outcome = cg("policy", "test", "policies")
    assert outcome.code == 2
    assert "nope" in outcome.stderr
    assert "policies/gate.test.yaml" in outcome.stderr


# --------------------------------------------------------------------------- register validate


def test_register_validate(gate_project: Any, cg: Any) -> None:
    outcome = cg("register", "validate", "registers")
    assert outcome.code == 0, outcome.output
    assert "1 standard(s), 2 control(s)" in outcome.stdout


def test_register_validate_reports_coverage_gaps(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    gate_project.write(
        "only-vuln/p.yaml",
        (gate_project.root / "policies/gate.yaml").read_text(encoding="utf-8").split("---")[0],
    )
    outcome = cg("register", "validate", "registers", "--policies", "only-vuln")
    assert outcome.code == 0, outcome.output
    assert "1/2 controls" in outcome.stdout
    assert "gap: tiny-std:CFG-1" in outcome.stdout


def test_register_validate_duplicate_standard_exits_2(
    gate_project: Any, cg_inprocess: Any, gate_snippets: Any
) -> None:
    cg = cg_inprocess
    gate_project.write("registers/copy.yaml", gate_snippets.register)
    outcome = cg("register", "validate", "registers")
    assert outcome.code == 2
    assert "duplicate standard id 'tiny-std'" in outcome.stderr
    assert "Traceback" not in outcome.output


def test_register_validate_bad_severity_names_line(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    text = (gate_project.root / "registers/tiny.yaml").read_text(encoding="utf-8")
    gate_project.write("registers/tiny.yaml", text.replace("severity: moderate", "severity: meh"))
    outcome = cg("register", "validate", "registers")
    assert outcome.code == 2
    assert "registers/tiny.yaml:20" in outcome.stderr
    assert "meh" in outcome.stderr


# --------------------------------------------------------------------------- init


def test_init_writes_a_config_check_can_use(gate_project: Any, cg: Any, gate_snippets: Any) -> None:
    outcome = cg("init")
    assert outcome.code == 0, outcome.output
    config = gate_project.root / "compliancegate.yaml"
    assert config.is_file()
    text = config.read_text(encoding="utf-8")
    assert "#" in text  # commented
    # The template names the built-in starter library (tests/packaging runs it); here its
    # other settings are tried on this project's own small policy set.
    assert text.count("[builtin:starter]") == 2
    text = text.replace("policies: [builtin:starter]", "policies: [policies]")
    config.write_text(text.replace("registers: [builtin:starter]", "registers: [registers]"))
    clean = cg("check", "--no-ledger", "--format", "json")
    assert clean.code == 0, clean.output
    assert clean.json()["decision"] == "compliant"
    gate_project.write("release/deploy.yaml", gate_snippets.deploy_latest)
    assert cg("check", "--no-ledger").code == 1
    # The template's environments apply: staging only blocks at high and above.
    assert cg("check", "--no-ledger", "--env", "staging").code == 0


def test_init_refuses_to_overwrite_without_force(gate_project: Any, cg: Any) -> None:
    config = gate_project.write("compliancegate.yaml", "# mine\n")
    outcome = cg("init")
    assert outcome.code == 2
    assert "--force" in outcome.stderr
    assert config.read_text(encoding="utf-8") == "# mine\n"
    forced = cg("init", "--force")
    assert forced.code == 0, forced.output
    assert "apiVersion: compliancegate/v1" in config.read_text(encoding="utf-8")


def test_init_path_option(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    outcome = cg("init", "--path", "ci/gate.yaml")
    assert outcome.code == 0, outcome.output
    assert (gate_project.root / "ci/gate.yaml").is_file()
    assert not (gate_project.root / "compliancegate.yaml").exists()


# --------------------------------------------------------------------------- misc


def test_version_and_help(gate_project: Any, cg: Any) -> None:
    from compliancegate import __version__

    version = cg("--version")
    assert version.code == 0
    assert version.stdout.strip() == f"compliancegate {__version__}"
    helped = cg("--help")
    assert helped.code == 0
    for command in ("check", "parse", "policy", "register", "init"):
        assert command in helped.stdout


def test_unknown_command_exits_2(gate_project: Any, cg_inprocess: Any) -> None:
    cg = cg_inprocess
    outcome = cg("frobnicate")
    assert outcome.code == 2
    assert "frobnicate" in outcome.stderr
    assert "Traceback" not in outcome.output


# --------------------------------------------------------------------------- parsed once


def test_each_file_is_parsed_once_per_run(
    gate_project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import compliancegate.artifacts.selection as selection
    from compliancegate.check import CheckOptions, run_check

    # Four policies read release/scan.json (by glob) and one reads every YAML file.
    stores: list[Any] = []

    original = selection.ArtifactStore

    def counting_store(*args: Any, **kwargs: Any) -> Any:
        store = original(*args, **kwargs)
        stores.append(store)
        return store

    monkeypatch.setattr(selection, "ArtifactStore", counting_store)
    report = run_check(
        CheckOptions(
            paths=(Path("release"),),
            policies=(Path("policies"),),
            registers=(Path("registers"),),
            no_ledger=True,
        )
    )
    assert report.decision == "compliant"
    assert len(stores) == 1
    assert stores[0].parses == 2  # scan.json and deploy.yaml


def test_each_file_is_parsed_once_through_the_cli(
    gate_project: Any, cg_inprocess: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliancegate.artifacts import raw_json, raw_yaml
    from compliancegate.artifacts.source import Source

    calls: list[str] = []
    for module in (raw_json, raw_yaml):
        fmt = module.FORMAT
        original = fmt.parse

        def counting(source: Source, _original: Any = original) -> Any:
            calls.append(source.display)
            return _original(source)

        monkeypatch.setattr(fmt, "parse", counting)
    for extra in ("scan-a", "scan-b"):
        scan = {"vulnerabilities": [], "signed": True}
        gate_project.write(f"release/{extra}/scan.json", json.dumps(scan))
    outcome = cg_inprocess("check", "release", "--no-ledger", "--format", "json")
    assert outcome.code == 0, outcome.output
    assert sorted(calls) == sorted(
        [
            "release/deploy.yaml",
            "release/scan.json",
            "release/scan-a/scan.json",
            "release/scan-b/scan.json",
        ]
    )


# --------------------------------------------------------------------------- starter content


def test_starter_policies_validate_against_starter_register(cg_subprocess: Any) -> None:
    if not (REPO / "policies").is_dir() or not (REPO / "registers").is_dir():
        pytest.skip("starter content is not there yet")
    outcome = cg_subprocess(["policy", "validate", "policies", "--register", "registers"], REPO)
    assert outcome.code == 0, outcome.output
    tests = cg_subprocess(["policy", "test", "policies"], REPO)
    assert tests.code == 0, tests.output
    assert " 0 failed" in tests.stdout


def test_a_policy_test_case_can_expect_an_evaluation_error(tmp_path: Path) -> None:
    from compliancegate.cli import run

    (tmp_path / "p.yaml").write_text(
        "apiVersion: compliancegate/v1\nkind: Policy\nid: fresh\ntitle: Fresh\n"
        "controls: []\nseverity: high\ninput: yaml\n"
        "rule: {path: completed, op: newer_than, value: 30d}\n"
        "---\napiVersion: compliancegate/v1\nkind: PolicyTest\npolicy: fresh\ncases:\n"
        "  - {name: not a date, input: {completed: soon}, expect: error}\n"
        "  - {name: wrongly expected, input: {completed: soon}, expect: fail}\n"
    )
    assert run(["policy", "test", str(tmp_path)]) == 1
    (tmp_path / "p.yaml").write_text(
        (tmp_path / "p.yaml").read_text().replace("expect: fail", "expect: error")
    )
    assert run(["policy", "test", str(tmp_path)]) == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("{name: c, input_file: nowhere.yaml, expect: pass}", "input_file 'nowhere.yaml'"),
        ("{name: c, input_file: ., expect: pass}", "input_file '.' is not a file"),
        ("{name: c, input: {}, format: nope, expect: pass}", "unknown format 'nope'"),
    ],
)
def test_a_broken_policy_test_case_is_exit_2_naming_the_line(
    tmp_path: Path, case: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from compliancegate.cli import run

    (tmp_path / "p.yaml").write_text(
        "apiVersion: compliancegate/v1\nkind: Policy\nid: p\ntitle: P\n"
        "controls: []\nseverity: high\ninput: yaml\nrule: {path: a, op: exists}\n"
        "---\napiVersion: compliancegate/v1\nkind: PolicyTest\npolicy: p\ncases:\n"
        f"  - {case}\n"
    )
    assert run(["policy", "test", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "p.yaml:14" in err
    assert message in err


def test_parse_prints_control_and_bidi_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compliancegate.cli import run

    hostile = "a\u009b31mred\u202etxt.exe"
    (tmp_path / "a.json").write_text(json.dumps({"name": hostile}), encoding="utf-8")
    assert run(["parse", str(tmp_path / "a.json")]) == 0
    out = capsys.readouterr().out
    assert "\u009b" not in out and "\u202e" not in out
    assert json.loads(out) == {"name": hostile}
