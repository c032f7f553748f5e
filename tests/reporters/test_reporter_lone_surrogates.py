"""A lone surrogate in a message, a file name or an item value: every format writes it
replaced (U+FFFD) and stays UTF-8, never an UnicodeEncodeError when the report is written.

Lone surrogates come from JSON (``"\\ud800"`` is valid JSON text) and from file names that are
not UTF-8 (Python decodes their bytes as U+DC80..U+DCFF, "surrogateescape").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from report_factory import make_policy, make_report, make_result, make_violation

from compliancegate.cli.output import write_file
from compliancegate.model import CheckReport, Notice, Status
from compliancegate.reporters import REPORTERS

SURROGATES = ["\ud800", "\udfff", "\udcff"]
PLACES = ["message", "file", "item"]


def report_with(place: str, surrogate: str) -> CheckReport:
    hostile = f"a{surrogate}b"
    policy = make_policy("p", title="Policy title")
    file = f"reports/{hostile}.json" if place == "file" else "reports/scan.json"
    message = f"message {hostile}" if place == "message" else "message plain"
    if place == "item":
        # An item value reaches reports through the message template and error texts.
        message = f"component {hostile} is vulnerable"
    violation = make_violation(policy, message=message, remediation=f"fix {hostile}", file=file)
    errored = make_policy("e", title="Errored", controls=())
    error = f'{file}: items[1]: version is a version longer than 256 characters ("{hostile}")'
    return make_report(
        [
            make_result(policy, Status.FAIL, [violation], blocking=True, artifacts=[file]),
            make_result(errored, Status.ERROR, error=error, blocking=True, artifacts=[file]),
        ],
        notices=[Notice("n", f"notice about {file}", file)],
    )


@pytest.mark.parametrize("name", sorted(REPORTERS))
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: f"U+{ord(s):04X}")
def test_every_format_replaces_lone_surrogates(
    tmp_path: Path, name: str, place: str, surrogate: str
) -> None:
    text = REPORTERS[name].render(report_with(place, surrogate))
    assert surrogate not in text
    text.encode("utf-8")  # strict: no UnicodeEncodeError
    assert "\ufffd" in text or "\\ufffd" in text
    # The rest of the hostile text survives: the replacement is one character, not a cut.
    assert "a\ufffdb" in text or "a\\ufffdb" in text
    target = tmp_path / f"report{REPORTERS[name].suffix}"
    write_file(target, text)
    assert target.read_text(encoding="utf-8") == text


def test_cli_writes_every_report_for_surrogates_in_file_names_and_values(tmp_path: Path) -> None:
    # Through the real command: a JSON value "\ud800" and a file name that is not UTF-8.
    release = tmp_path / "release"
    release.mkdir()
    (release / "doc.json").write_text('{"items": [{"name": "a\\ud800b", "ok": false}]}')
    os.makedirs(release, exist_ok=True)
    with open(os.fsencode(release) + b"/\xff\xfe.json", "wb") as handle:
        handle.write(b'{"items": [{"name": "x", "ok": false}]}')
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(
        "apiVersion: compliancegate/v1\nkind: Policy\nid: ok\ntitle: Items are ok\n"
        "severity: high\ncontrols: []\ninput: json\n"
        "rule: {for_each: items, assert: {path: ok, op: equals, value: true}}\n"
        'message: "item {item.name} is not ok"\n'
    )
    reports = tmp_path / "reports"
    args = [sys.executable, "-m", "compliancegate", "check", str(release)]
    args += ["--policies", str(policies), "--no-ledger"]
    for name, reporter in sorted(REPORTERS.items()):
        args += ["--report", f"{name}={reports / ('gate-' + name + reporter.suffix)}"]
    done = subprocess.run(args, capture_output=True, cwd=tmp_path, timeout=120, check=False)
    assert done.returncode == 1, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr
    assert "item a\ufffdb is not ok".encode() in done.stdout
    for name, reporter in REPORTERS.items():
        text = (reports / f"gate-{name}{reporter.suffix}").read_bytes().decode("utf-8")
        assert "\ufffd" in text or "\\ufffd" in text, name
