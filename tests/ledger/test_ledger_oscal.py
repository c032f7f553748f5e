"""OSCAL documents of a real history: staging and production runs, breaks and fixes, a
waiver, an acknowledgement, a plan and a breach. The assessment results of a run, of the
ledger's period and the POA&M validate against NIST's schemas, say what happened, and the
same inputs give the same bytes (in this process and in another one)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from ledger_project import Project, cli, cli_subprocess, day, policies_yaml, register_yaml

from compliancegate.ledger.filestore import FileStore
from compliancegate.loading.register import load_register
from compliancegate.oscal.assessment import ledger_assessment_results
from compliancegate.oscal.ids import control_id
from compliancegate.oscal.validation import validate_oscal

LEDGER = ".compliancegate/ledger"

WAIVERS = """\
apiVersion: compliancegate/v1
kind: Waivers
waivers:
  - {id: W-PIN, policy: images-pinned, reason: base image rebuild pending, approved_by: ciso,
     expires: '2030-01-01'}
"""


def _check(env: str, n: int, *extra: str) -> int:
    outcome = cli(["check", "--env", env, "--run-id", f"{env}-{n}", *extra], now=day(n))
    assert outcome.code in (0, 1), outcome.output
    return outcome.code


def _finding(project: Project, n: int, title_start: str) -> str:
    state = FileStore(project.root / LEDGER).snapshot(day(n)).state
    (found,) = [f for f in state.live() if f.title.startswith(title_start)]
    return found.id


@pytest.fixture
def history(project: Project) -> Project:
    """Day 0 staging breaks three things; the owner acknowledges one and plans another;
    day 2 production is blocked and breaches the break-fix finding; day 3 staging waives it;
    day 4 production fixes CVE-1 and CVE-2... which CVE-1 breaks again on day 5."""
    project.write("registers/tiny.yaml", register_yaml(clause="security-incident"))
    project.write("policies/gate.yaml", policies_yaml(pin_enforcement="block"))
    project.scan("CVE-1", "CVE-2")
    project.deploy(pinned=False)
    assert _check("staging", 0) == 1
    cve1 = _finding(project, 0, "CVE-1 ")
    cve2 = _finding(project, 0, "CVE-2 ")
    assert cli(["findings", "ack", cve1, "--by", "owner", "--text", "ours"], now=day(1)).code == 0
    project.write("plan.md", "1. Upgrade pkg-CVE-2\n2. Redeploy\n")
    planned = cli(["findings", "plan", cve2, "--file", "plan.md", "--by", "owner"], now=day(1))
    assert planned.code == 0, planned.output
    assert _check("production", 2) == 1  # blocked: CVE-1, CVE-2 and the break-fix finding
    project.write("waivers.yaml", WAIVERS)
    assert _check("staging", 3, "--waivers", "waivers.yaml") == 1
    project.scan("CVE-2")
    assert _check("production", 4, "--waivers", "waivers.yaml") == 1  # CVE-1 fixed
    project.scan("CVE-1", "CVE-2")
    assert _check("staging", 5, "--waivers", "waivers.yaml") == 1  # CVE-1 broken again
    return project


def _poam(now: int) -> tuple[str, dict[str, Any]]:
    outcome = cli(["findings", "list", "--format", "poam"], now=day(now))
    assert outcome.code == 0, outcome.output
    return outcome.stdout, json.loads(outcome.stdout)


def _props(node: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in node.get("props", []):
        found.setdefault(p["name"], []).append(p["value"])
    return found


def test_the_poam_of_the_history_validates_and_says_what_happened(history: Project) -> None:
    text, document = _poam(6)
    assert validate_oscal(document) == []
    poam = document["plan-of-action-and-milestones"]
    state = FileStore(history.root / LEDGER).snapshot(day(6)).state
    live = sorted(state.live(), key=lambda f: (f.opened_at, f.id))
    # One item per finding not resolved: CVE-2 (planned), the waived pin, CVE-1's 2nd life.
    assert [_props(i)["finding"] for i in poam["poam-items"]] == [[f.id] for f in live]
    assert len(live) == 3
    risks = {_props(r)["finding"][0]: r for r in poam["risks"]}
    for finding in live:
        risk = risks[finding.id]
        assert _props(risk)["severity"] == [finding.severity.value]
        # One risk-log entry per ledger event, in order, with its time.
        entries = risk["risk-log"]["entries"]
        assert [e["props"][0]["value"] for e in entries] == [
            e.kind.value.removeprefix("finding.") for e in finding.events
        ]
        if finding.clock.due is not None:
            assert risk["deadline"] == finding.clock.due.strftime("%Y-%m-%dT%H:%M:%SZ")
    by_title = {f.title.split()[0]: f for f in live}
    planned = risks[by_title["CVE-2"].id]
    assert planned["status"] == "remediating"
    milestones = planned["remediations"][0]["tasks"]
    assert planned["remediations"][0]["lifecycle"] == "planned"
    (recorded,) = [m for m in milestones if m["title"].startswith("Remediation plan recorded")]
    assert recorded["title"].startswith("Remediation plan recorded (plan plan.md")
    assert recorded["timing"]["on-date"]["date"] == "2026-03-03T09:00:00Z"
    assert milestones[-1]["title"].startswith("Remediation due")
    pinned = risks[by_title["container"].id]
    assert pinned["status"] == "deviation-approved"
    assert "breached" in [e["props"][0]["value"] for e in pinned["risk-log"]["entries"]]
    assert any(v.startswith("release at 2026-03-04") for v in _props(pinned)["breach"])
    assert pinned["remediations"][0]["tasks"][-1]["title"].startswith("Fixed before the next")
    assert "deadline" not in pinned  # break-fix: due before a release, not at a date
    # The resolved first life of CVE-1 is not on the plan; its second life is, and open.
    again = risks[by_title["CVE-1"].id]
    assert again["status"] == "open" and _props(again)["status"] == ["open"]
    # Milestones with dates come in time order, and the clock's due date is one of them.
    for risk in poam["risks"]:
        tasks = risk["remediations"][0]["tasks"]
        dates = [t["timing"]["on-date"]["date"] for t in tasks if "timing" in t]
        assert dates == sorted(dates)
        undated = [t["title"] for t in tasks if "timing" not in t]
        assert all(t.startswith(("Plan step", "Fixed before the next")) for t in undated)
    # The plan's steps are milestones, in its order, right after the plan was recorded.
    titles = [m["title"] for m in milestones]
    start = titles.index(recorded["title"])
    assert titles[start + 1 : start + 3] == [
        "Plan step 1: Upgrade pkg-CVE-2",
        "Plan step 2: Redeploy",
    ]
    assert planned["deadline"] in [
        t["timing"]["on-date"]["date"] for t in milestones if "timing" in t
    ]
    # Same ledger, same moment: the same bytes, in this process and in another one.
    assert _poam(6)[0] == text
    other = cli_subprocess(["findings", "list", "--format", "poam"], history.root, now=day(6))
    assert other.code == 0, other.output
    assert other.stdout == text
    # An acknowledgement moves the open risk to investigating, with a log entry saying so.
    cve1 = by_title["CVE-1"].id
    assert cli(["findings", "ack", cve1, "--by", "owner"], now=day(7)).code == 0
    later = {
        _props(r)["finding"][0]: r for r in _poam(8)[1]["plan-of-action-and-milestones"]["risks"]
    }
    assert later[cve1]["status"] == "investigating"
    last = later[cve1]["risk-log"]["entries"][-1]
    assert (last["status-change"], last["start"]) == ("investigating", "2026-03-09T09:00:00Z")
    assert last["description"] == "by owner"


def test_the_poam_follows_the_filters_and_an_empty_one_still_validates(history: Project) -> None:
    outcome = cli(["findings", "list", "--format", "poam", "--control", "tiny:CFG-1"], now=day(6))
    items = json.loads(outcome.stdout)["plan-of-action-and-milestones"]["poam-items"]
    assert len(items) == 1 and items[0]["title"] == "container web uses nginx:latest"
    outcome = cli(["findings", "list", "--format", "poam", "--control", "x:NONE"], now=day(6))
    document = json.loads(outcome.stdout)
    assert validate_oscal(document) == []
    (item,) = document["plan-of-action-and-milestones"]["poam-items"]
    assert item["title"] == "No open findings"


def test_check_writes_the_runs_assessment_results(history: Project) -> None:
    args = ["--waivers", "waivers.yaml", "--report", "oscal=out/ar.json", "--format", "oscal"]
    outcome = cli(["check", "--env", "staging", "--no-ledger", "--run-id", "r6", *args], now=day(6))
    assert outcome.code == 1, outcome.output
    written = (history.root / "out/ar.json").read_text(encoding="utf-8")
    assert written == outcome.stdout
    document = json.loads(written)
    assert validate_oscal(document) == []
    results = document["assessment-results"]
    (result,) = results["results"]
    assert result["start"] == "2026-03-08T09:00:00Z"
    assert _props(result)["decision"] == ["blocked"]
    reviewed = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert [c["control-id"] for c in reviewed] == ["vuln-1", "cfg-1"]
    # One observation per evaluated policy; the waived one is an observation, not a finding.
    observations = {_props(o)["policy"][0]: o for o in result["observations"]}
    assert set(observations) == {"no-critical-vulns", "images-pinned"}
    assert _props(observations["images-pinned"])["status"] == ["waived"]
    (finding,) = result["findings"]
    assert finding["target"]["target-id"] == f"{control_id('tiny:VULN-1')}_obj"
    assert finding["target"]["status"]["state"] == "not-satisfied"
    assert finding["related-observations"] == [
        {"observation-uuid": observations["no-critical-vulns"]["uuid"]}
    ]
    # The evidence names the artifact with the SHA-256 of its bytes.
    scan = history.root / "release/scan.json"
    digest = hashlib.sha256(scan.read_bytes()).hexdigest()
    (evidence,) = observations["no-critical-vulns"]["relevant-evidence"]
    assert _props(evidence)["sha256"] == [digest]
    resource_uuid = evidence["href"].removeprefix("#")
    (resource,) = [r for r in results["back-matter"]["resources"] if r["uuid"] == resource_uuid]
    assert resource["rlinks"][0]["hashes"] == [{"algorithm": "SHA-256", "value": digest}]
    # The same run again: the same bytes.
    again = cli(["check", "--env", "staging", "--no-ledger", "--run-id", "r6", *args], now=day(6))
    assert again.stdout == written


def test_the_ledgers_period_gives_one_result_per_run(history: Project) -> None:
    state = FileStore(history.root / LEDGER).snapshot(day(6)).state
    register = load_register((history.root / "registers",))
    document = ledger_assessment_results(state, register=register)
    assert validate_oscal(document) == []
    results = document["assessment-results"]["results"]
    assert [_props(r)["run-id"][0] for r in results] == [
        "staging-0",
        "production-2",
        "staging-3",
        "production-4",
        "staging-5",
    ]
    assert [_props(r)["environment"][0] for r in results][1] == "production"
    # Right after day 0 both controls are broken; after day 3 the pin is waived.
    broken = [sorted(_props(f)["control"][0] for f in r.get("findings", [])) for r in results]
    assert broken[0] == ["tiny:CFG-1", "tiny:VULN-1"]
    assert broken[2] == ["tiny:VULN-1"]
    events = [_props(o)["event"][0] for o in results[1]["observations"]]
    assert "breached" in events
    assert ledger_assessment_results(state, register=register) == document
    period = ledger_assessment_results(state, since=day(2), until=day(4), register=register)
    assert len(period["assessment-results"]["results"]) == 3  # days 2, 3 and 4
    with pytest.raises(ValueError, match="no run"):
        ledger_assessment_results(state, since=day(30))
