"""Registers: loading, merging several files, and errors that name file, line and subject."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from compliancegate.errors import LoadError
from compliancegate.loading.register import DEFAULT_SLA, load_register
from compliancegate.model import Severity

Write = Callable[[str, str], Path]

REGISTER = """\
apiVersion: compliancegate/v1
kind: Register
metadata:
  name: acme-federal
  owner: compliance@acme.example
  reviewed: 2026-10-01
  review_every_days: 90
sla:
  security-incident: {critical: 15, high: 30}
standards:
  - id: nist-800-53-r5
    title: NIST SP 800-53 Rev. 5
    version: 5.1.1
    source: https://csrc.nist.gov/pubs/sp/800/53/r5/upd1/final
    effective: 2020-09-23
    sunset: null
    superseded_by: null
    controls:
      - id: SI-2
        title: Flaw Remediation
        severity: high
        clause: security-incident
      - id: CM-6
        title: Configuration Settings
        severity: moderate
        clause: break-fix
"""


def other(std: str = "other", control: str = "X-1", extra: str = "") -> str:
    return f"""\
apiVersion: compliancegate/v1
kind: Register
metadata: {{name: other}}
{extra}standards:
  - id: {std}
    title: Other standard
    controls:
      - {{id: {control}, title: Something, severity: low, clause: audit-finding}}
"""


def test_valid_register(write: Write) -> None:
    path = write("registers/acme.yaml", REGISTER)
    register = load_register([path])
    (meta,) = register.files
    assert meta.name == "acme-federal"
    assert meta.owner == "compliance@acme.example"
    assert meta.reviewed == dt.date(2026, 10, 1)
    assert meta.review_every_days == 90
    assert meta.file.endswith("acme.yaml")
    (standard,) = register.standards
    assert standard.id == "nist-800-53-r5"
    assert standard.version == "5.1.1"
    assert standard.effective == dt.date(2020, 9, 23)
    assert standard.sunset is None
    assert standard.superseded_by is None
    assert standard.line == 11
    assert [c.id for c in standard.controls] == ["SI-2", "CM-6"]
    si2 = register.control("nist-800-53-r5:SI-2")
    assert si2 is not None
    assert si2.severity is Severity.HIGH
    assert si2.clause == "security-incident"
    assert si2.ref == "nist-800-53-r5:SI-2"
    assert si2.line == 19
    assert register.control("nist-800-53-r5:AC-1") is None
    assert register.control("SI-2") is None
    assert list(register.controls) == ["nist-800-53-r5:SI-2", "nist-800-53-r5:CM-6"]


def test_sla_defaults_are_overridden_per_clock(write: Write) -> None:
    register = load_register([write("r.yaml", REGISTER)])
    assert register.sla["security-incident"]["critical"] == 15
    assert register.sla["security-incident"]["high"] == 30
    # Clocks not set keep the defaults of the spec.
    assert register.sla["security-incident"]["low"] == 180
    assert register.sla["audit-finding"] == DEFAULT_SLA["audit-finding"]
    assert register.sla["break-fix"] == {"before": "next-production-release"}
    # The defaults themselves are not modified.
    assert DEFAULT_SLA["security-incident"]["critical"] == 30


def test_files_merge_and_directories_are_searched(write: Write, tmp_path: Path) -> None:
    write("registers/a.yaml", REGISTER)
    write("registers/nested/b.yml", other())
    write("registers/notes.txt", "not a register")
    write("registers/.hidden/c.yaml", "this: is ignored")
    register = load_register([tmp_path / "registers"])
    assert [s.id for s in register.standards] == ["nist-800-53-r5", "other"]
    assert register.control("other:X-1") is not None
    assert [m.name for m in register.files] == ["acme-federal", "other"]


def test_the_same_file_twice_is_read_once(write: Write, tmp_path: Path) -> None:
    path = write("registers/a.yaml", REGISTER)
    register = load_register([path, tmp_path / "registers"])
    assert len(register.standards) == 1


def test_duplicate_standard_across_files(write: Write) -> None:
    first = write("a.yaml", REGISTER)
    second = write("b.yaml", other(std="nist-800-53-r5"))
    with pytest.raises(LoadError) as info:
        load_register([first, second])
    message = str(info.value)
    assert message.startswith(f"{second}:5: nist-800-53-r5: duplicate standard id")
    assert f"first defined in {first}:11" in message


def test_duplicate_control_within_a_standard(write: Write) -> None:
    text = (
        REGISTER
        + """\
      - id: SI-2
        title: Flaw Remediation again
        severity: low
        clause: break-fix
"""
    )
    path = write("dup.yaml", text)
    with pytest.raises(LoadError) as info:
        load_register([path])
    assert str(info.value).startswith(
        f"{path}:27: nist-800-53-r5:SI-2: duplicate control id 'SI-2'"
    )


def test_same_control_id_in_two_standards_is_fine(write: Write) -> None:
    register = load_register([write("a.yaml", REGISTER), write("b.yaml", other(control="SI-2"))])
    assert register.control("other:SI-2") is not None
    assert register.control("nist-800-53-r5:SI-2") is not None


@pytest.mark.parametrize(
    ("old", "new", "line", "key"),
    [
        (
            "        clause: break-fix\n",
            "        clause: break-fix\n        owner: bob\n",
            27,
            "owner",
        ),
        ("  review_every_days: 90\n", "  review_every_days: 90\n  reviwed: x\n", 8, "reviwed"),
        ("kind: Register\n", "kind: Register\nstandard: []\n", 3, "standard"),
        ("    sunset: null\n", "    sunset: null\n    sunsets: null\n", 17, "sunsets"),
        (
            "  security-incident: {critical: 15, high: 30}\n",
            "  security-incident: {critical: 15, hihg: 30}\n",
            9,
            "hihg",
        ),
    ],
)
def test_unknown_key_is_reported_with_its_line(
    write: Write, old: str, new: str, line: int, key: str
) -> None:
    assert old in REGISTER
    path = write("r.yaml", REGISTER.replace(old, new))
    with pytest.raises(LoadError) as info:
        load_register([path])
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert f"unknown key '{key}'" in message
    assert "allowed keys here" in message
    assert info.value.line == line


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("        severity: high\n", "        severity: urgent\n", 21, "urgent"),
        ("        clause: security-incident\n", "        clause: incident\n", 22, "incident"),
        ("  reviewed: 2026-10-01\n", "  reviewed: last week\n", 6, "last week"),
        ("kind: Register\n", "kind: Policy\n", 2, "Register"),
        ("  - id: nist-800-53-r5\n", "  - id: nist 800\n", 11, "nist 800"),
    ],
)
def test_schema_errors_name_file_and_line(
    write: Write, old: str, new: str, line: int, fragment: str
) -> None:
    assert old in REGISTER
    path = write("r.yaml", REGISTER.replace(old, new))
    with pytest.raises(LoadError) as info:
        load_register([path])
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert fragment in message


def test_missing_required_key(write: Write) -> None:
    path = write("r.yaml", REGISTER.replace("        title: Flaw Remediation\n", ""))
    with pytest.raises(LoadError) as info:
        load_register([path])
    assert "'title' is a required property" in str(info.value)
    assert info.value.line == 19


def test_sla_conflict_between_files(write: Write) -> None:
    first = write("a.yaml", REGISTER)
    second = write("b.yaml", other(extra="sla:\n  security-incident: {critical: 30}\n"))
    with pytest.raises(LoadError) as info:
        load_register([first, second])
    message = str(info.value)
    assert message.startswith(f"{second}:5: ")
    assert "sla.security-incident.critical is 30 here but 15" in message
    assert f"in {first}" in message


def test_agreeing_sla_in_two_files_is_fine(write: Write) -> None:
    first = write("a.yaml", REGISTER)
    second = write("b.yaml", other(extra="sla:\n  security-incident: {critical: 15}\n"))
    register = load_register([first, second])
    assert register.sla["security-incident"]["critical"] == 15


def test_superseded_by_must_name_a_known_standard(write: Write) -> None:
    text = REGISTER.replace("superseded_by: null", "superseded_by: nist-800-53-r6")
    path = write("r.yaml", text)
    with pytest.raises(LoadError) as info:
        load_register([path])
    message = str(info.value)
    assert message.startswith(f"{path}:11: nist-800-53-r5: superseded_by names 'nist-800-53-r6'")


def test_superseded_by_a_standard_in_another_file(write: Write) -> None:
    text = REGISTER.replace("superseded_by: null", "superseded_by: other")
    register = load_register([write("a.yaml", text), write("b.yaml", other())])
    assert register.standards[0].superseded_by == "other"


def test_missing_register_path(tmp_path: Path) -> None:
    with pytest.raises(LoadError) as info:
        load_register([tmp_path / "nope.yaml"])
    assert "nope.yaml" in str(info.value)
    assert "no such register" in str(info.value)


def test_malformed_register_yaml(write: Write) -> None:
    path = write("r.yaml", "apiVersion: compliancegate/v1\nkind: [Register\n")
    with pytest.raises(LoadError) as info:
        load_register([path])
    assert str(info.value).startswith(f"{path}:3: invalid YAML")


def test_binary_register_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"apiVersion: \x00\x01")
    with pytest.raises(LoadError, match="binary"):
        load_register([path])


def test_an_unquoted_numeric_version_is_rejected(tmp_path: Path) -> None:
    import pytest

    from compliancegate.errors import LoadError
    from compliancegate.loading.register import load_register

    path = tmp_path / "r.yaml"
    path.write_text(
        "apiVersion: compliancegate/v1\nkind: Register\nmetadata: {name: r}\nstandards:\n"
        "  - id: s\n    title: S\n    version: 5.10\n    controls: []\n"
    )
    with pytest.raises(LoadError, match=r"r\.yaml:7: .*version"):
        load_register([path])
