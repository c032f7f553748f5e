"""Waiver files and compliancegate.yaml."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from compliancegate.errors import LoadError
from compliancegate.loading.config import Config, find_config, load_config
from compliancegate.loading.waivers import load_waivers
from compliancegate.model import Severity

Write = Callable[[str, str], Path]

WAIVERS = """\
apiVersion: compliancegate/v1
kind: Waivers
waivers:
  - id: openssl-cve
    policy: no-critical-vulnerabilities
    match: {id: CVE-2024-1234, package: openssl, "fix.available": false}
    reason: Vendor patch scheduled; not reachable in our build.
    approved_by: ciso@acme.example
    expires: "2026-12-31"
    environments: [staging]
  - policy: no-latest
    reason: Legacy image, replaced next sprint.
    approved_by: lead@acme.example
    expires: 2020-01-01
"""


# --------------------------------------------------------------------------- waivers


def test_valid_waivers(write: Write) -> None:
    path = write("waivers.yaml", WAIVERS)
    first, second = load_waivers(path)
    assert first.id == "openssl-cve"
    assert first.policy == "no-critical-vulnerabilities"
    assert first.reason.startswith("Vendor patch")
    assert first.approved_by == "ciso@acme.example"
    assert first.expires == dt.date(2026, 12, 31)
    assert first.environments == ("staging",)
    assert first.file.endswith("waivers.yaml")
    assert first.line == 4
    assert [(m.expression, m.value) for m in first.match] == [
        ("id", "CVE-2024-1234"),
        ("package", "openssl"),
        ("fix.available", False),
    ]
    # Match paths are compiled JMESPath.
    assert first.match[2].path.search({"fix": {"available": False}}) is False
    # An id is made up when none is given.
    assert second.id == "no-latest#2"
    assert second.match == ()
    assert second.environments is None
    assert second.line == 11


def test_expired_waivers_load_and_know_they_are_expired(write: Write) -> None:
    _, old = load_waivers(write("waivers.yaml", WAIVERS))
    # An unquoted date stays a string in our YAML and is read as a date.
    assert old.expires == dt.date(2020, 1, 1)
    assert old.expired(dt.date(2020, 1, 2))
    assert not old.expired(dt.date(2020, 1, 1))  # valid through its expiry day
    assert not old.expired(dt.date(2019, 12, 31))


def test_missing_expires_is_rejected(write: Write) -> None:
    path = write("waivers.yaml", WAIVERS.replace("    expires: 2020-01-01\n", ""))
    with pytest.raises(LoadError) as info:
        load_waivers(path)
    message = str(info.value)
    assert message.startswith(f"{path}:11: ")
    assert "'expires' is a required property" in message


@pytest.mark.parametrize("field", ["reason", "approved_by", "policy", "expires"])
def test_every_waiver_needs_policy_reason_approver_and_expiry(write: Write, field: str) -> None:
    fields = {"policy": "p", "reason": "r", "approved_by": "a", "expires": '"2026-01-01"'}
    del fields[field]
    entry = "\n    ".join(f"{key}: {value}" for key, value in fields.items())
    text = f"apiVersion: compliancegate/v1\nkind: Waivers\nwaivers:\n  - {entry}\n"
    path = write("waivers.yaml", text)
    with pytest.raises(LoadError) as info:
        load_waivers(path)
    assert str(info.value).startswith(f"{path}:4: ")
    assert f"'{field}' is a required property" in str(info.value)


def test_a_repeated_expires_key_is_rejected(write: Write) -> None:
    # The reviewer reads the first date; YAML libraries keep the last one.
    text = WAIVERS.replace(
        'expires: "2026-12-31"', 'expires: "2026-12-31"\n    expires: "2099-12-31"'
    )
    path = write("waivers.yaml", text)
    with pytest.raises(LoadError) as info:
        load_waivers(path)
    assert str(info.value).startswith(f"{path}:10: duplicate key 'expires'")


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ('expires: "2026-12-31"', 'expires: "2026-02-30"', 9, "not a calendar date"),
        ('expires: "2026-12-31"', 'expires: "next year"', 9, "does not match"),
        ("    reason: Vendor", "    reasons: x\n    reason: Vendor", 7, "unknown key 'reasons'"),
        ("{id: CVE-2024-1234,", "{'id[': CVE-2024-1234,", 6, "match: bad JMESPath 'id['"),
        ("kind: Waivers", "kind: Waiver", 2, "Waivers"),
    ],
)
def test_waiver_errors_name_file_and_line(
    write: Write, old: str, new: str, line: int, fragment: str
) -> None:
    assert old in WAIVERS
    path = write("waivers.yaml", WAIVERS.replace(old, new))
    with pytest.raises(LoadError) as info:
        load_waivers(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert fragment in message


def test_bad_match_names_the_waiver(write: Write) -> None:
    path = write("waivers.yaml", WAIVERS.replace("{id: CVE-2024-1234,", "{'id[': CVE-2024-1234,"))
    with pytest.raises(LoadError) as info:
        load_waivers(path)
    assert info.value.subject == "openssl-cve"
    assert ": openssl-cve: match:" in str(info.value)


def test_duplicate_waiver_id(write: Write) -> None:
    text = (
        WAIVERS
        + """\
  - id: openssl-cve
    policy: other
    reason: r
    approved_by: a
    expires: "2026-01-01"
"""
    )
    path = write("waivers.yaml", text)
    with pytest.raises(LoadError) as info:
        load_waivers(path)
    assert str(info.value).startswith(f"{path}:15: duplicate waiver id 'openssl-cve'")


def test_empty_waivers_file(write: Write) -> None:
    assert load_waivers(write("waivers.yaml", "# none yet\n")) == ()
    empty = "apiVersion: compliancegate/v1\nkind: Waivers\nwaivers: []\n"
    assert load_waivers(write("w2.yaml", empty)) == ()


def test_missing_waivers_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        load_waivers(tmp_path / "waivers.yaml")


# --------------------------------------------------------------------------- config

CONFIG = """\
apiVersion: compliancegate/v1
kind: Config
policies: [policies, ../shared/policies]
registers: [registers/nist.yaml]
waivers: waivers.yaml
paths: [build/reports]
exclude: [tmp]
artifacts:
  - {glob: "deploy/*.txt", format: yaml}
fail_on: high
environment: staging
ledger: .compliancegate/ledger
reports:
  json: out/report.json
limits: {max_artifact_bytes: 1000}
environments:
  production:
    fail_on: low
    policies: [policies/prod]
    waivers: waivers-prod.yaml
  staging: {}
"""


def test_config_paths_are_relative_to_the_file(write: Write, tmp_path: Path) -> None:
    path = write("repo/ci/compliancegate.yaml", CONFIG)
    base = tmp_path / "repo" / "ci"
    config = load_config(path)
    assert config.file == path
    assert config.policies == (base / "policies", base / "../shared/policies")
    assert config.registers == (base / "registers/nist.yaml",)
    assert config.waivers == base / "waivers.yaml"
    assert config.paths == (base / "build/reports",)
    assert config.exclude == ("tmp",)
    assert config.artifacts == (("deploy/*.txt", "yaml"),)
    assert config.fail_on is Severity.HIGH
    assert config.environment == "staging"
    assert config.ledger == str(base / ".compliancegate/ledger")
    assert config.reports == (("json", base / "out/report.json"),)
    assert config.max_artifact_bytes == 1000


def test_config_environments(write: Write, tmp_path: Path) -> None:
    config = load_config(write("compliancegate.yaml", CONFIG))
    assert set(config.environments) == {"production", "staging"}
    production = config.environments["production"]
    assert production.fail_on is Severity.LOW
    assert production.policies == (tmp_path / "policies/prod",)
    assert production.waivers == tmp_path / "waivers-prod.yaml"
    assert production.registers is None  # not overridden
    assert production.paths is None
    staging = config.environments["staging"]
    assert staging.fail_on is None
    assert staging.policies is None


def test_git_ledger_is_not_a_path(write: Write) -> None:
    text = CONFIG.replace(".compliancegate/ledger", "git:.#compliance-ledger")
    assert load_config(write("compliancegate.yaml", text)).ledger == "git:.#compliance-ledger"


def test_minimal_config_defaults(write: Write) -> None:
    config = load_config(write("c.yaml", "apiVersion: compliancegate/v1\nkind: Config\n"))
    assert config.policies == ()
    assert config.waivers is None
    assert config.fail_on is None
    assert config.ledger is None
    assert config.environments == {}


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("fail_on: high\n", "fail_on: high\nfail_om: low\n", 11, "unknown key 'fail_om'"),
        ("    fail_on: low\n", "    fail_on: low\n    ledger: x\n", 19, "unknown key 'ledger'"),
        (
            "limits: {max_artifact_bytes: 1000}",
            "limits: {max_bytes: 1000}",
            15,
            "unknown key 'max_bytes'",
        ),
        ("fail_on: high\n", "fail_on: severe\n", 10, "severe"),
        ("format: yaml}", "format: csv}", 9, "unknown format 'csv'"),
    ],
)
def test_config_errors_name_file_and_line(
    write: Write, old: str, new: str, line: int, fragment: str
) -> None:
    assert old in CONFIG
    path = write("compliancegate.yaml", CONFIG.replace(old, new))
    with pytest.raises(LoadError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert fragment in message


def test_config_with_two_documents_is_rejected(write: Write) -> None:
    path = write("compliancegate.yaml", CONFIG + "---\n" + CONFIG)
    with pytest.raises(LoadError, match="expected one config document, found 2"):
        load_config(path)


def test_find_config(write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config(None) == Config()
    write("compliancegate.yaml", CONFIG)
    found = find_config(None)
    assert found.fail_on is Severity.HIGH
    other = write("elsewhere/c.yaml", "apiVersion: compliancegate/v1\nkind: Config\n")
    assert find_config(other).fail_on is None
    with pytest.raises(LoadError):
        find_config(tmp_path / "missing.yaml")


def test_generated_waiver_ids_do_not_collide_across_documents(tmp_path: Path) -> None:
    from compliancegate.loading.waivers import load_waivers

    doc = (
        "apiVersion: compliancegate/v1\nkind: Waivers\nwaivers:\n"
        "  - {policy: p, reason: r, approved_by: a, expires: 2030-01-01}\n"
    )
    path = tmp_path / "waivers.yaml"
    path.write_text(doc + "---\n" + doc)
    assert [w.id for w in load_waivers(path)] == ["p#1", "p#2"]
