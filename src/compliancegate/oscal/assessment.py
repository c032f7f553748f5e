"""OSCAL assessment results: one ``result`` per ``check`` run.

From a ``CheckReport`` (one run, or several for a period): the register's controls are the
result's ``reviewed-controls``; each evaluated policy is an ``observation`` (method TEST)
whose ``relevant-evidence`` points at a back-matter resource per artifact, with its SHA-256
where known; each control a failed or errored policy maps to is a ``finding`` whose target
is the control's objective, ``not-satisfied``, related to the observations that broke it.

From the ledger alone (``ledger_assessment_results``), which records runs and the findings'
lives but not every policy's outcome, each run's observations are the findings' events of
that run and its findings are the controls broken by what was open right after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from compliancegate.model import CheckReport, PolicyResult, Register, Status
from compliancegate.oscal.ids import (
    OSCAL_VERSION,
    control_id,
    inert,
    line,
    multiline,
    oscal_uuid,
    prop,
    timestamp,
)
from compliancegate.reporters._common import replace_surrogates

if TYPE_CHECKING:
    from compliancegate.ledger.state import Finding, LedgerState, RunSummary

_FAILED = (Status.FAIL, Status.ERROR)


# --------------------------------------------------------------------------- shared pieces


def _control_order(register: Register | None, extra: Iterable[str]) -> list[str]:
    """Every control reference, the register's first in its order, then the others sorted."""
    refs: list[str] = []
    if register is not None:
        refs.extend(str(ref) for s in register.standards for ref in (c.ref for c in s.controls))
    known = set(refs)
    refs.extend(sorted({r for r in extra if r not in known}))
    return refs


def _reviewed_controls(refs: Sequence[str]) -> dict[str, Any]:
    ids = list(dict.fromkeys(_safe_control_id(r) for r in refs))
    ids = [i for i in ids if i is not None]
    if not ids:
        return {
            "description": "No register was given: every control the policies map to.",
            "control-selections": [{"include-all": {}}],
        }
    return {
        "description": "The controls of the register the run was evaluated against.",
        "control-selections": [{"include-controls": [{"control-id": i} for i in ids]}],
    }


def _safe_control_id(ref: str) -> str | None:
    try:
        return control_id(ref)
    except ValueError:
        return None


def _href(path: str) -> str:
    """A relative URI reference for a file path (spaces, ``#`` and non-ASCII escaped)."""
    return quote(replace_surrogates(path).replace("\\", "/"), safe="/._-~")


class _Evidence:
    """Back-matter resources, one per artifact path, shared by every result."""

    def __init__(self, digests: Mapping[str, str]) -> None:
        self._digests = digests
        self._resources: dict[str, dict[str, Any]] = {}

    def reference(self, path: str) -> dict[str, Any]:
        """The ``relevant-evidence`` entry of ``path`` (its resource is added once)."""
        resource_uuid = oscal_uuid("artifact", path)
        digest = self._digests.get(path)
        if path not in self._resources:
            rlink: dict[str, Any] = {"href": _href(path)}
            if digest is not None:
                rlink["hashes"] = [{"algorithm": "SHA-256", "value": digest}]
            self._resources[path] = {
                "uuid": resource_uuid,
                "title": inert(path),
                "description": "An artifact the gate read.",
                "rlinks": [rlink],
            }
        evidence: dict[str, Any] = {
            "href": f"#{resource_uuid}",
            "description": f"Artifact {inert(path)}.",
        }
        props = [prop("path", path)]
        if digest is not None:
            props.append(prop("sha256", digest))
        evidence["props"] = props
        return evidence

    def add(self, resource: dict[str, Any]) -> None:
        """Another back-matter resource (the plan the runs followed)."""
        self._resources[f"\x00{resource['uuid']}"] = resource

    def back_matter(self) -> dict[str, Any]:
        """The back matter, resources in a fixed order."""
        return {"resources": [self._resources[k] for k in sorted(self._resources)]}


def _plan_resource(title: str, files: Iterable[str]) -> dict[str, Any]:
    """The stand-in for an assessment plan: the register and policies as evaluated.

    The gate has no OSCAL assessment plan; ``import-ap`` points here, as other gates that
    write assessment results without one do.
    """
    unique = sorted(set(files))
    resource: dict[str, Any] = {
        "uuid": oscal_uuid("assessment-plan", *unique),
        "title": line(title),
        "description": "The register and the policies the gate evaluated (the assessment "
        "plan the results follow).",
    }
    if unique:
        resource["rlinks"] = [{"href": _href(f)} for f in unique]
    return resource


def _document(
    title: str,
    last_modified: dt.datetime,
    version: str,
    results: list[dict[str, Any]],
    evidence: _Evidence,
    plan: dict[str, Any],
    identity: Sequence[str],
) -> dict[str, Any]:
    evidence.add(plan)
    return {
        "assessment-results": {
            "uuid": oscal_uuid("assessment-results", *identity),
            "metadata": {
                "title": line(title),
                "last-modified": timestamp(last_modified),
                "version": line(version),
                "oscal-version": OSCAL_VERSION,
                "props": [prop("generator", "compliancegate")],
            },
            "import-ap": {"href": f"#{plan['uuid']}"},
            "results": results,
            "back-matter": evidence.back_matter(),
        }
    }


# --------------------------------------------------------------------------- from reports


def _observation(report: CheckReport, result: PolicyResult, evidence: _Evidence) -> dict[str, Any]:
    policy = result.policy
    violations = result.violations
    lines = [
        f"Policy {inert(policy.id)} ({policy.severity}, {policy.enforcement}): {result.status}."
    ]
    if result.error:
        lines.append(f"Error: {inert(result.error)}")
    for v in violations:
        where = v.location.file or "-"
        if v.location.line is not None:
            where += f":{v.location.line}"
        waived = f" (waived by {inert(v.waiver.id)} until {v.waiver.expires})" if v.waiver else ""
        lines.append(f"- {inert(v.message)} at {inert(where)}{waived}")
    observation: dict[str, Any] = {
        "uuid": oscal_uuid("observation", report.run_id, policy.id),
        "title": inert(policy.title),
        "description": multiline("\n".join(lines)),
        "props": [
            prop("policy", policy.id),
            prop("status", str(result.status)),
            prop("severity", str(policy.severity)),
            prop("enforcement", str(policy.enforcement)),
            prop("blocking", "true" if result.blocking else "false"),
            prop("violations", str(len(violations))),
            *(prop("control", c) for c in policy.controls),
        ],
        "methods": ["TEST"],
        "types": ["finding" if result.status in _FAILED else "control-objective"],
        "collected": timestamp(report.started_at),
    }
    if result.artifacts:
        observation["relevant-evidence"] = [evidence.reference(a) for a in result.artifacts]
    return observation


def _findings(report: CheckReport, observed: Mapping[str, str]) -> list[dict[str, Any]]:
    """One finding per control a failed or errored policy maps to, in control order."""
    broken: dict[str, list[PolicyResult]] = {}
    for result in report.results:
        if result.status in _FAILED:
            for mapped in result.policy.controls:
                broken.setdefault(str(mapped), []).append(result)
    findings = []
    for ref in _control_order(report.register, broken):
        results = broken.get(ref)
        cid = _safe_control_id(ref)
        if not results or cid is None:
            continue
        control = report.register.control(ref) if report.register is not None else None
        title = f"{inert(ref)} is not satisfied" + (f": {inert(control.title)}" if control else "")
        policies = ", ".join(f"{inert(r.policy.id)} ({r.status})" for r in results)
        findings.append(
            {
                "uuid": oscal_uuid("finding", report.run_id, ref),
                "title": line(title),
                "description": f"Failed policies mapped to {inert(ref)}: {policies}.",
                "props": [prop("control", ref)],
                "target": {
                    "type": "objective-id",
                    "target-id": f"{cid}_obj",
                    "status": {"state": "not-satisfied"},
                },
                "related-observations": [
                    {"observation-uuid": observed[str(r.policy.id)]} for r in results
                ],
            }
        )
    return findings


def _run_props(report: CheckReport) -> list[dict[str, str]]:
    props = [
        prop("run-id", report.run_id),
        prop("decision", str(report.decision)),
        prop("fail-on", str(report.fail_on)),
        prop("release", "true" if report.release else "false"),
    ]
    if report.environment is not None:
        props.append(prop("environment", report.environment))
    if report.clock_override is not None:
        props.append(prop("clock-override", report.clock_override.value))
    return props


def _remarks(report: CheckReport) -> str | None:
    lines = []
    if report.clock_override is not None:
        override = report.clock_override
        lines.append(
            f"COMPLIANCEGATE_NOW={inert(override.value)} replaced the clock: evaluated as of "
            f"{timestamp(override.now)} (the system clock said {timestamp(override.wall_clock)})."
        )
    lines += [f"- {inert(n.code)}: {inert(n.message)}" for n in report.notices]
    return multiline("\n".join(lines)) if lines else None


def _report_result(report: CheckReport, evidence: _Evidence) -> dict[str, Any]:
    evaluated = [r for r in report.results if r.status is not Status.NOT_APPLICABLE]
    observations = [_observation(report, r, evidence) for r in evaluated]
    observed = {str(r.policy.id): o["uuid"] for r, o in zip(evaluated, observations, strict=True)}
    counts = ", ".join(
        f"{report.count(s)} {s}" for s in Status if report.count(s) or s is Status.FAIL
    )
    where = f" in environment {inert(report.environment)}" if report.environment else ""
    refs = _control_order(report.register, (c for r in report.results for c in r.policy.controls))
    result: dict[str, Any] = {
        "uuid": oscal_uuid("result", report.run_id),
        "title": f"compliancegate run {inert(report.run_id)}",
        "description": multiline(
            f"The gate evaluated {len(report.results)} policies{where}: {counts}. "
            f"Decision: {report.decision}."
        ),
        "start": timestamp(report.started_at),
        "props": _run_props(report),
        "reviewed-controls": _reviewed_controls(refs),
    }
    if observations:
        result["observations"] = observations
    findings = _findings(report, observed)
    if findings:
        result["findings"] = findings
    remarks = _remarks(report)
    if remarks is not None:
        result["remarks"] = remarks
    return result


def assessment_results(
    reports: Sequence[CheckReport],
    *,
    digests: Mapping[str, str] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """The assessment-results document of ``reports``: one result per run, in order.

    ``digests`` maps an artifact path (as the report names it) to its SHA-256 (hex); the
    paths it lacks are named without a digest. ``ValueError`` when ``reports`` is empty.
    """
    if not reports:
        raise ValueError("assessment results need at least one run")
    evidence = _Evidence(digests or {})
    results = [_report_result(r, evidence) for r in reports]
    files = {r.policy.file for report in reports for r in report.results}
    for report in reports:
        if report.register is not None:
            files |= {meta.file for meta in report.register.files}
    runs = [r.run_id for r in reports]
    if title is None:
        title = (
            f"compliancegate assessment results of run {inert(runs[0])}"
            if len(runs) == 1
            else f"compliancegate assessment results of {len(runs)} runs"
        )
    return _document(
        title,
        max(r.started_at for r in reports),
        reports[-1].tool_version,
        results,
        evidence,
        _plan_resource("Register and policies", files),
        runs,
    )


# --------------------------------------------------------------------------- from the ledger


def _status_after(finding: Finding, seq: int) -> str | None:
    """``open``, ``waived`` or ``resolved`` as of record ``seq``; None before it opened."""
    from compliancegate.ledger.records import RecordKind

    status: str | None = None
    for event in finding.events:
        if event.seq > seq:
            break
        if event.kind is RecordKind.OPENED:
            status = "waived" if (event.detail or "").startswith("waived by") else "open"
        elif event.kind is RecordKind.WAIVED:
            status = "waived"
        elif event.kind is RecordKind.UNWAIVED:
            status = "open"
        elif event.kind is RecordKind.RESOLVED:
            status = "resolved"
    return status


def _ledger_result(
    run: RunSummary,
    end: int,
    findings: Sequence[Finding],
    register: Register | None,
) -> dict[str, Any]:
    """The result of one recorded run; ``end`` is the last record of the run's batch."""
    observations = []
    for finding in findings:
        for event in finding.events:
            if event.run_id != run.run_id:
                continue
            what = event.kind.value.removeprefix("finding.")
            detail = f": {inert(event.detail)}" if event.detail else ""
            text = f"Finding `{finding.id}` {what}{detail}"
            observations.append(
                {
                    "uuid": oscal_uuid("ledger-observation", run.run_id, str(event.seq)),
                    "title": f"{what}: {inert(finding.title)}",
                    "description": multiline(f"{text}."),
                    "props": [
                        prop("finding", finding.id),
                        prop("event", what),
                        prop("ledger-seq", str(event.seq)),
                        *([prop("policy", finding.policy)] if finding.policy else []),
                    ],
                    "methods": ["TEST"],
                    "types": ["finding" if what in ("opened", "breached") else "historic"],
                    "collected": timestamp(event.at),
                }
            )
    broken: dict[str, list[Finding]] = {}
    for finding in findings:
        if _status_after(finding, end) == "open":
            for ref in finding.controls:
                broken.setdefault(ref, []).append(finding)
    results_findings = []
    for ref in _control_order(register, broken):
        cid = _safe_control_id(ref)
        if ref not in broken or cid is None:
            continue
        ids = ", ".join(f"`{f.id}`" for f in broken[ref])
        results_findings.append(
            {
                "uuid": oscal_uuid("ledger-finding", run.run_id, ref),
                "title": f"{inert(ref)} is not satisfied",
                "description": f"Open findings after run {inert(run.run_id)}: {ids}.",
                "props": [prop("control", ref)],
                "target": {
                    "type": "objective-id",
                    "target-id": f"{cid}_obj",
                    "status": {"state": "not-satisfied"},
                },
            }
        )
    refs = _control_order(register, (c for f in findings for c in f.controls))
    props = [prop("run-id", run.run_id), prop("decision", run.decision)]
    props += [prop("ledger-seq", str(run.seq))]
    for name, value in (
        ("environment", run.environment),
        ("commit", run.commit),
        ("pipeline", run.pipeline),
    ):
        if value:
            props.append(prop(name, value))
    result: dict[str, Any] = {
        "uuid": oscal_uuid("result", run.run_id),
        "title": f"compliancegate run {inert(run.run_id)}",
        "description": multiline(
            f"Run {inert(run.run_id)} as recorded in the ledger"
            + (f" (environment {inert(run.environment)})" if run.environment else "")
            + f": decision {run.decision}."
        ),
        "start": timestamp(run.at),
        "props": props,
        "reviewed-controls": _reviewed_controls(refs),
    }
    if observations:
        result["observations"] = observations
    if results_findings:
        result["findings"] = results_findings
    return result


def ledger_assessment_results(
    state: LedgerState,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    register: Register | None = None,
) -> dict[str, Any]:
    """The assessment results of the runs the ledger recorded from ``since`` to ``until``
    (both inclusive; None is unbounded). ``ValueError`` when no run falls in the period."""
    runs = [
        r
        for r in state.runs
        if (since is None or r.at >= since) and (until is None or r.at <= until)
    ]
    if not runs:
        raise ValueError("no run was recorded in the period")
    # A run's records follow its run record up to the next run's.
    ends = {
        r.seq: (state.runs[i + 1].seq - 1 if i + 1 < len(state.runs) else state.records)
        for i, r in enumerate(state.runs)
    }
    findings = sorted(state.findings.values(), key=lambda f: (f.opened_at, f.id))
    results = [_ledger_result(r, ends[r.seq], findings, register) for r in runs]
    files = [meta.file for meta in register.files] if register is not None else []
    first, last = runs[0], runs[-1]
    return _document(
        f"compliancegate assessment results from {timestamp(first.at)} to {timestamp(last.at)}",
        last.at,
        f"ledger record {state.records}",
        results,
        _Evidence({}),
        _plan_resource("Register", files),
        ["ledger", state.head, first.run_id, last.run_id],
    )
