"""``findings`` and ``ledger`` commands, and what ``check`` records, through the CLI: in
process (click's runner) and as a real ``python -m compliancegate`` process."""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from ledger_project import Outcome, Project, cli, cli_subprocess, day, policies_yaml, records

Call = Callable[..., Outcome]


@pytest.fixture(params=["in-process", "subprocess"])
def cg(request: pytest.FixtureRequest, project: Project) -> Call:
    """Run compliancegate on the project, one way or the other."""

    def call(*args: str, now: int = 30, **env: str) -> Outcome:
        if request.param == "in-process":
            return cli(args, now=day(now), **env)
        return cli_subprocess(args, project.root, now=day(now), **env)

    return call


@pytest.fixture
def history(project: Project) -> Project:
    """CVE-1 broken day 0, fixed day 12, broken again day 20; the image unpinned day 5."""
    steps = [
        (0, ("CVE-1",), True),
        (5, ("CVE-1",), False),
        (12, (), False),
        (20, ("CVE-1",), False),
    ]
    for n, critical, pinned in steps:
        project.scan(*critical)
        project.deploy(pinned=pinned)
        assert cli(["check", "--env", "staging"], now=day(n)).code in (0, 1)
    return project


def test_check_records_every_run_unless_no_ledger(project: Project) -> None:
    assert cli(["check", "--no-ledger"]).code == 0
    assert not (project.root / ".compliancegate").exists()
    project.scan("CVE-1")
    assert cli(["check", "--env", "staging", "--run-id", "release-42"]).code == 1
    run, opened = records(project.root / ".compliancegate/ledger")
    assert run["kind"] == "run" and opened["kind"] == "finding.opened"
    data = run["data"]
    assert (data["run_id"], data["environment"], data["decision"]) == (
        "release-42",
        "staging",
        "blocked",
    )
    assert data["changes"]["opened"] == 1 and data["commit"] is None
    assert cli(["check", "--env", "staging"], COMPLIANCEGATE_PIPELINE="ci-7").code == 1
    assert records(project.root / ".compliancegate/ledger")[-1]["data"]["pipeline"] == "ci-7"


def test_the_config_names_the_ledger(project: Project) -> None:
    project.write(
        "compliancegate.yaml",
        "apiVersion: compliancegate/v1\nkind: Config\npolicies: [policies]\n"
        "registers: [registers]\npaths: [release]\nledger: audit/ledger\n",
    )
    project.scan("CVE-1")
    assert cli(["check"]).code == 1
    assert (project.root / "audit/ledger/records.jsonl").is_file()
    listed = cli(["findings", "list", "--format", "json"]).json()
    assert listed["ledger"].endswith("audit/ledger") and len(listed["findings"]) == 1
    assert cli(["ledger", "verify"]).code == 0


def test_findings_list_table(cg: Call, history: Project) -> None:
    outcome = cg("findings", "list")
    assert outcome.code == 0
    lines = outcome.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "CLAUSE", "OPENED", "DUE"]
    assert all(len(line) <= 80 for line in lines)
    assert "3 finding(s): 2 not resolved, 0 breached" in outcome.stdout
    assert "critical no-critical-vulns: CVE-1 in pkg-CVE-1" in outcome.stdout
    assert "next-prod" in outcome.stdout  # the break-fix finding of the unpinned image


def test_findings_list_json_and_filters(cg: Call, history: Project) -> None:
    every = cg("findings", "list", "--format", "json", now=60).json()
    assert every["kind"] == "FindingList" and every["now"] == "2026-05-01T09:00:00Z"
    by_title = collections.defaultdict(list)
    for f in every["findings"]:
        by_title[f["title"]].append(f)
    first, second = sorted(by_title["CVE-1 in pkg-CVE-1"], key=lambda f: f["life"])
    assert (first["opened_at"], first["resolved_at"]) == (
        "2026-03-02T09:00:00Z",
        "2026-03-14T09:00:00Z",
    )
    assert (first["due"], second["due"]) == ("2026-04-01T09:00:00Z", "2026-04-21T09:00:00Z")
    assert not first["breached"] and second["breached"]
    assert [e["event"] for e in first["timeline"]] == ["opened", "resolved"]

    def ids(*filters: str, now: int = 60) -> set[str]:
        outcome = cg("findings", "list", "--format", "json", *filters, now=now)
        assert outcome.code == 0, outcome.output
        return {f["id"] for f in outcome.json()["findings"]}

    pinned = by_title["container web uses nginx:latest"][0]["id"]
    assert ids("--open") == {second["id"], pinned}
    assert ids("--breached") == {second["id"]}
    assert ids("--breached", now=30) == set()
    assert ids("--clause", "break-fix") == {pinned}
    assert ids("--clause", "security-incident") == {first["id"], second["id"]}
    assert ids("--control", "tiny:CFG-1") == {pinned}
    assert ids("--since", "2026-03-20") == {second["id"]}
    assert ids("--clause", "audit-finding") == set()


def test_findings_show_by_prefix(cg: Call, history: Project) -> None:
    listed = cg("findings", "list", "--format", "json", "--open", "--clause", "security-incident")
    (finding,) = listed.json()["findings"]
    outcome = cg("findings", "show", finding["id"][:6], now=60)
    assert outcome.code == 0
    assert f"finding {finding['id']}" in outcome.stdout
    assert "due:         2026-04-21T09:00:00Z" in outcome.stdout
    assert "due: not resolved by 2026-04-21T09:00:00Z" in outcome.stdout
    assert "Timeline:" in outcome.stdout and "opened    run" in outcome.stdout
    as_json = cg("findings", "show", finding["id"], "--format", "json").json()
    assert as_json["id"] == finding["id"] and as_json["life"] == 2


def test_findings_show_errors(cg: Call, history: Project) -> None:
    missing = cg("findings", "show", "ffffffffffff")
    assert missing.code == 2 and "no finding has id" in missing.stderr
    assert cg("findings", "show", " ").code == 2


def test_an_ambiguous_prefix_is_exit_2(project: Project) -> None:
    project.scan(*(f"CVE-{n}" for n in range(20)))  # 20 ids, 16 first digits: some share one
    cli(["check", "--env", "staging"])
    found = cli(["findings", "list", "--format", "json"]).json()["findings"]
    firsts = collections.Counter(f["id"][0] for f in found)
    shared = next(c for c, n in firsts.items() if n > 1)
    outcome = cli(["findings", "show", shared])
    assert outcome.code == 2 and "is the start of" in outcome.stderr


def test_manual_audit_finding_lifecycle(cg: Call, project: Project) -> None:
    opened = cg(
        "findings",
        "open",
        "--clause",
        "audit-finding",
        "--control",
        "tiny:VULN-1",
        "--title",
        "Auditor: no retention policy for scan results",
        "--by",
        "auditor@agency",
        now=0,
    )
    assert opened.code == 0, opened.output
    assert "due 2026-04-16T09:00:00Z, plan due 2026-03-17T09:00:00Z" in opened.stdout
    fid = opened.stdout.split()[2]
    assert cg("findings", "ack", fid[:8], "--by", "owner@vendor", "--text", "ours", now=1).code == 0
    project.write("plan.md", "1. Write the policy\n2. Enforce it\n")
    planned = cg("findings", "plan", fid, "--file", "plan.md", "--by", "owner@vendor", now=10)
    digest = hashlib.sha256(b"1. Write the policy\n2. Enforce it\n").hexdigest()
    assert planned.code == 0 and digest in planned.stdout
    assert cg("findings", "note", fid, "--text", "policy drafted", now=11).code == 0
    shown = cg("findings", "show", fid, "--format", "json", now=20).json()
    assert shown["manual"] and shown["clause"] == "audit-finding" and not shown["breached"]
    assert [e["event"] for e in shown["timeline"]] == ["opened", "acked", "planned", "noted"]
    assert [e["by"] for e in shown["timeline"]][:3] == [
        "auditor@agency",
        "owner@vendor",
        "owner@vendor",
    ]
    planned_record = [
        r
        for r in records(project.root / ".compliancegate/ledger")
        if r["kind"] == "finding.planned"
    ]
    assert planned_record[0]["data"]["plan"].startswith("1. Write the policy")
    # Runs do not resolve it; its owner does.
    assert cli(["check", "--env", "staging"], now=day(21)).code == 0
    assert cg("findings", "resolve", fid, "--text", "policy in force", now=30).code == 0
    done = cg("findings", "show", fid, "--format", "json", now=60).json()
    assert done["status"] == "resolved" and not done["breached"]
    again = cg("findings", "ack", fid)
    assert again.code == 2 and "already resolved" in again.stderr
    assert cg("ledger", "verify").code == 0


def test_manual_security_incident_uses_the_control_severity(cg: Call) -> None:
    opened = cg(
        "findings",
        "open",
        "--clause",
        "security-incident",
        "--control",
        "tiny:CFG-1",
        "--title",
        "Leaked deploy key",
        now=0,
    )
    # tiny:CFG-1 is moderate: 90 days under security-incident.
    assert opened.code == 0 and "security-incident, moderate; due 2026-05-31" in opened.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--control", "tiny:NOPE-1"], "not in the register"),
        (["--control", "VULN-1"], "expected STANDARD:CONTROL"),
        (["--control", "tiny:VULN-1", "--clause", "break-fix"], "Invalid value"),
    ],
)
def test_findings_open_errors(project: Project, args: list[str], message: str) -> None:
    base = ["findings", "open", "--title", "x"]
    if "--clause" not in args:
        base += ["--clause", "audit-finding"]
    outcome = cli([*base, *args])
    assert outcome.code == 2 and message in outcome.output


def test_findings_open_without_a_register_needs_a_severity(
    project: Project, tmp_path: Path
) -> None:
    (project.root / "registers/tiny.yaml").unlink()
    (project.root / "registers").rmdir()
    base = ["findings", "open", "--clause", "audit-finding", "--control", "x:Y-1", "--title", "t"]
    assert cli(base).code == 2
    assert cli([*base, "--severity", "low"]).code == 0


def test_a_policy_finding_is_resolved_by_a_run_not_by_hand(project: Project) -> None:
    project.scan("CVE-1")
    cli(["check", "--env", "staging"])
    (finding,) = cli(["findings", "list", "--format", "json"]).json()["findings"]
    outcome = cli(["findings", "resolve", finding["id"], "--text", "trust me"])
    assert outcome.code == 2 and "a run in which the policy passes resolves it" in outcome.stderr


def test_plan_file_errors(project: Project) -> None:
    opened = cli(
        [
            "findings",
            "open",
            "--clause",
            "audit-finding",
            "--control",
            "tiny:VULN-1",
            "--title",
            "t",
        ]
    )
    fid = opened.stdout.split()[2]
    project.root.joinpath("bin.md").write_bytes(b"\xff\xfe")
    assert cli(["findings", "plan", fid, "--file", "bin.md"]).code == 2
    assert cli(["findings", "plan", fid, "--file", "missing.md"]).code == 2


def test_bad_since_is_exit_2(project: Project) -> None:
    outcome = cli(["findings", "list", "--since", "yesterday"])
    assert outcome.code == 2 and "YYYY-MM-DD" in outcome.stderr


def test_an_empty_ledger(project: Project) -> None:
    # As ledger verify says: an empty ledger folder is a ledger, a missing one is not.
    (project.root / ".compliancegate/ledger").mkdir(parents=True)
    assert cli(["findings", "list"]).stdout == "No findings.\n"
    assert cli(["ledger", "verify"]).code == 0


def test_ledger_verify_through_a_process(history: Project) -> None:
    ok = cli_subprocess(["ledger", "verify"], history.root)
    assert ok.code == 0 and ok.stdout.startswith("ok: ")
    path = history.root / ".compliancegate/ledger/records.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], *lines[2:]]))
    bad = cli_subprocess(["ledger", "verify"], history.root)
    assert bad.code == 1 and "record 2" in bad.stdout and "Traceback" not in bad.output


def test_help_lists_the_commands(project: Project) -> None:
    top = cli(["--help"]).stdout
    assert "findings" in top and "ledger" in top
    sub = cli(["findings", "--help"]).stdout
    for command in ("list", "show", "open", "ack", "plan", "note", "resolve"):
        assert command in sub
    assert "verify" in cli(["ledger", "--help"]).stdout


def test_check_json_report_stays_valid_with_ledger_notices(
    project: Project, tmp_path: Path
) -> None:
    import jsonschema

    from compliancegate.reporters.json_report import load_schema

    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.deploy(pinned=False)
    cli(["check", "--env", "staging"])
    # The deployment is gone, not fixed: the finding stays open and blocks production.
    (project.root / "release/deploy.yaml").unlink()
    blocked = cli(["check", "--env", "production", "--format", "json"], now=day(1))
    document = blocked.json()
    jsonschema.validate(document, load_schema())
    assert blocked.code == 1 and document["decision"] == "blocked"
    rule = [r for r in document["results"] if r["policy"]["id"] == "compliancegate:break-fix"]
    assert rule and rule[0]["blocking"] and rule[0]["violations"][0]["controls"] == ["tiny:CFG-1"]
    pending = cli(
        ["check", "--env", "staging", "--ledger", f"git:{tmp_path}/none.git#x", "--format", "json"]
    ).json()
    jsonschema.validate(pending, load_schema())
    assert json.dumps(pending).count("ledger-pending") == 1


def test_hostile_titles_cannot_drive_the_terminal_or_the_ci_log(project: Project) -> None:
    project.scan("CVE-1\x1b[2J\n::error title=x::forged\u202e")
    cli(["check", "--env", "staging"])
    table = cli(["findings", "list"]).stdout
    assert "\x1b" not in table and "\u202e" not in table
    assert not any(line.lstrip().startswith("::") for line in table.splitlines())
    as_json = cli(["findings", "list", "--format", "json"]).stdout
    assert as_json.isascii()
    fid = json.loads(as_json)["findings"][0]["id"]
    shown = cli(["findings", "show", fid]).stdout
    assert "\x1b" not in shown and "\u202e" not in shown


def test_a_malformed_git_ledger_is_refused_before_the_run(project: Project) -> None:
    outcome = cli(["check", "--env", "staging", "--ledger", "git:.#bad..branch"], now=day(0))
    assert outcome.code == 2
    assert "bad..branch" in outcome.stderr
    assert not (project.root / ".compliancegate").exists()
