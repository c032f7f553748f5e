"""The OSCAL plan of action and milestones (POA&M) of the findings the ledger holds open.

Each finding not resolved (open, or waived: an accepted deviation stays on the plan until it
is fixed) gives three linked objects: an ``observation`` (what broke, where, when), a
``risk`` (severity, status, ``deadline`` from the finding's clock, a ``risk-log`` entry per
ledger event, a remediation whose ``tasks`` are the milestones) and the ``poam-item`` that
ties them together. Everything comes from the ledger's derived state, so the same ledger
read at the same ``now`` gives the same bytes.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from compliancegate.ledger.state import Finding, FindingEvent, LedgerState

# How each ledger event moves the risk (OSCAL risk-status values); events that do not
# change it (a note, a release that found it open) have no status-change.
_STATUS_CHANGE = {
    "finding.opened": "open",
    "finding.acked": "investigating",
    "finding.planned": "remediating",
    "finding.waived": "deviation-approved",
    "finding.unwaived": "open",
    "finding.resolved": "closed",
}

_EVENT_TITLE = {
    "finding.opened": "Finding opened",
    "finding.acked": "Finding acknowledged",
    "finding.planned": "Remediation plan recorded",
    "finding.waived": "Waiver approved: deviation accepted",
    "finding.unwaived": "Waiver no longer covers the finding",
    "finding.resolved": "Finding resolved",
    "finding.breached": "Production release while open (breach)",
    "finding.noted": "Note",
    "finding.overflow": "Violations past the ledger's cap, counted",
}


def _risk_status(finding: Finding) -> str:
    """The risk's status now: the last status its events set, ``open`` by default."""
    status = "open"
    for event in finding.events:
        status = _STATUS_CHANGE.get(event.kind.value, status)
    if finding.status.value == "waived":
        return "deviation-approved"
    return status


def _log_entry(finding: Finding, event: FindingEvent) -> dict[str, Any]:
    kind = event.kind.value
    parts = []
    if event.run_id:
        parts.append(f"run {inert(event.run_id)}")
    if event.by:
        parts.append(f"by {inert(event.by)}")
    text = ", ".join(parts)
    if event.detail:
        detail = inert(event.detail)
        text = f"{text}: {detail}" if text else detail
    entry: dict[str, Any] = {
        "uuid": oscal_uuid("risk-log", finding.id, str(event.seq)),
        "title": line(_EVENT_TITLE.get(kind, kind)),
        "description": multiline(text or _EVENT_TITLE.get(kind, kind)),
        "start": timestamp(event.at),
        "end": timestamp(event.at),
        "props": [prop("event", kind.removeprefix("finding.")), prop("ledger-seq", str(event.seq))],
    }
    if kind in _STATUS_CHANGE:
        entry["status-change"] = _STATUS_CHANGE[kind]
    return entry


def _milestone(finding: Finding, key: str, title: str, at: dt.datetime | None) -> dict[str, Any]:
    task: dict[str, Any] = {
        "uuid": oscal_uuid("milestone", finding.id, key),
        "type": "milestone",
        "title": line(title),
    }
    if at is not None:
        task["timing"] = {"on-date": {"date": timestamp(at)}}
    return task


_PLAN_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(\S.*)$")
_PLAN_DATE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])")
MAX_PLAN_ITEMS = 50
"""Milestones taken from one plan's list; a longer list is a document, not a plan of steps."""


def plan_items(text: str) -> list[tuple[str, dt.datetime | None]]:
    """The steps of a remediation plan: each top-level list item (``-``, ``*``, ``+`` or
    ``1.``, a checkbox allowed) with the first ISO date it names, if any, as its date."""
    import datetime as dt

    items: list[tuple[str, dt.datetime | None]] = []
    for raw in text.splitlines():
        match = _PLAN_ITEM.match(raw)
        if match is None:
            continue
        title = match.group(1).strip()
        when = None
        found = _PLAN_DATE.search(title)
        if found is not None:
            with contextlib.suppress(ValueError):
                day = dt.date.fromisoformat(found.group(1))
                when = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        items.append((title, when))
        if len(items) == MAX_PLAN_ITEMS:
            break
    return items


def _milestones(finding: Finding) -> list[dict[str, Any]]:
    """The milestones in time order: each remediation plan recorded, the steps of the
    latest plan (its list items; an undated step follows the plan, a step naming a date is
    due then), and the clock's deadlines; last, undated, "before the next production
    release" for break-fix."""
    clock = finding.clock
    # (when it sorts, key, title, its date or None)
    rows: list[tuple[dt.datetime, str, str, dt.datetime | None]] = []
    for e in finding.events:
        if e.kind.value == "finding.planned":
            title = f"Remediation plan recorded ({inert(e.detail or 'plan')})"
            rows.append((e.at, f"plan-{e.seq}", title, e.at))
    planned = max((row[0] for row in rows), default=None)
    if planned is not None:
        for number, (step, when) in enumerate(plan_items(finding.plan or ""), start=1):
            title = f"Plan step {number}: {inert(step)}"
            rows.append((when or planned, f"plan-step-{number:03d}", title, when))
    for at, key, title in (
        (clock.notify_due, "notify", "Notification due"),
        (clock.plan_due, "plan-due", "Remediation plan due"),
        (clock.due, "due", "Remediation due: the finding is resolved"),
    ):
        if at is not None:
            rows.append((at, key, title, at))
    tasks = [_milestone(finding, key, title, at) for _, key, title, at in sorted(rows)]
    if clock.before_release:
        tasks.append(
            _milestone(finding, "before-release", "Fixed before the next production release", None)
        )
    return tasks


def _props(finding: Finding) -> list[dict[str, str]]:
    clock = finding.clock
    props = [
        prop("finding", finding.id),
        prop("fingerprint", finding.fingerprint),
        prop("severity", finding.severity.value),
        prop("status", finding.status.value),
    ]
    if finding.policy:
        props.append(prop("policy", finding.policy))
    if clock.clause:
        props.append(prop("clause", clock.clause))
    if clock.before_release:
        props.append(prop("due-before", "next-production-release"))
    if finding.waiver:
        props.append(prop("waiver", finding.waiver))
    for breach in finding.breaches:
        props.append(prop("breach", f"{breach.kind} at {timestamp(breach.at)}: {breach.detail}"))
    for ref in finding.controls:
        props.append(prop("control", ref))
        with contextlib.suppress(ValueError):
            props.append(prop("control-id", control_id(ref)))
    return props


def _where(finding: Finding) -> str:
    if not finding.file:
        return "-"
    return inert(finding.file + (f":{finding.line}" if finding.line is not None else ""))


def _objects(finding: Finding) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The observation, risk and poam-item of one finding."""
    controls = ", ".join(inert(c) for c in finding.controls) or "no control"
    source = f"policy {inert(finding.policy)}" if finding.policy else "opened by hand"
    title = inert(finding.title)
    observation_uuid = oscal_uuid("poam-observation", finding.id)
    risk_uuid = oscal_uuid("risk", finding.id)
    observation = {
        "uuid": observation_uuid,
        "title": title,
        "description": multiline(
            f"Found by {source} at {_where(finding)}, breaking {controls}."
            + (f" Run {inert(finding.opened_run)}." if finding.opened_run else "")
        ),
        "props": [prop("finding", finding.id)],
        "methods": ["TEST"] if not finding.manual else ["EXAMINE"],
        "types": ["finding"],
        "collected": timestamp(finding.opened_at),
    }
    planned = any(e.kind.value == "finding.planned" for e in finding.events)
    risk: dict[str, Any] = {
        "uuid": risk_uuid,
        "title": title,
        "description": multiline(
            f"A {finding.severity.value} finding ({finding.status.value}) breaking {controls}."
        ),
        "statement": multiline(
            f"Until it is fixed, {controls} is not satisfied"
            + (
                f"; its {inert(finding.clock.clause)} clock applies."
                if finding.clock.clause
                else "."
            )
        ),
        "props": _props(finding),
        "status": _risk_status(finding),
    }
    if finding.clock.due is not None:
        risk["deadline"] = timestamp(finding.clock.due)
    risk["remediations"] = [
        {
            "uuid": oscal_uuid("remediation", finding.id),
            "lifecycle": "planned" if planned else "recommendation",
            "title": f"Remediate: {title}",
            "description": multiline(
                "The remediation plan is recorded in the ledger (`findings plan`)."
                if planned
                else "No remediation plan is recorded yet; the milestones are the clock's."
            ),
            "tasks": _milestones(finding),
        }
    ]
    if finding.events:
        risk["risk-log"] = {"entries": [_log_entry(finding, e) for e in finding.events]}
    risk["related-observations"] = [{"observation-uuid": observation_uuid}]
    item = {
        "uuid": oscal_uuid("poam-item", finding.id),
        "title": title,
        "description": multiline(
            f"Finding `{finding.id}` ({finding.severity.value}, {finding.status.value}), "
            f"opened {timestamp(finding.opened_at)}, breaking {controls}."
        ),
        "props": _props(finding)[:4],
        "related-observations": [{"observation-uuid": observation_uuid}],
        "related-risks": [{"risk-uuid": risk_uuid}],
    }
    return observation, risk, item


def poam(
    state: LedgerState,
    findings: Iterable[Finding] | None = None,
    *,
    location: str | None = None,
) -> dict[str, Any]:
    """The POA&M of ``findings`` (default: every finding ``state`` holds open or waived),
    oldest first; ``location`` names the ledger in the metadata."""
    chosen = state.live() if findings is None else findings
    ordered = sorted(chosen, key=lambda f: (f.opened_at, f.id))
    observations, risks, items = [], [], []
    for finding in ordered:
        observation, risk, item = _objects(finding)
        observations.append(observation)
        risks.append(risk)
        items.append(item)
    metadata: dict[str, Any] = {
        "title": "compliancegate plan of action and milestones",
        "last-modified": timestamp(state.now),
        "version": f"ledger record {state.records}",
        "oscal-version": OSCAL_VERSION,
        "props": [prop("generator", "compliancegate"), prop("ledger-head", state.head)],
    }
    if location:
        metadata["props"].append(prop("ledger", location))
    document: dict[str, Any] = {
        "uuid": oscal_uuid("poam", state.head, timestamp(state.now)),
        "metadata": metadata,
    }
    if observations:
        document["observations"] = observations
        document["risks"] = risks
    # The schema wants at least one item: a POA&M with nothing open says so in one.
    document["poam-items"] = items or [
        {
            "uuid": oscal_uuid("poam-item", "none", state.head),
            "title": "No open findings",
            "description": f"The ledger holds no open finding as of {timestamp(state.now)}.",
            "props": [prop("status", "none-open")],
        }
    ]
    return {"plan-of-action-and-milestones": document}
