"""Findings as users read them: filters, a JSON document and terminal text.

The library returns strings and dicts; ``cli/findings.py`` prints them. Titles come from
violation messages, which come from artifacts the gate does not trust, so terminal text goes
through the reporters' sanitizers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from compliancegate.ledger.clocks import BEFORE_NEXT_RELEASE
from compliancegate.ledger.records import format_time
from compliancegate.ledger.state import Finding, LedgerState
from compliancegate.reporters._common import defuse_log_commands, one_line, truncate

API_VERSION = "compliancegate/v1"


@dataclass(frozen=True)
class FindingFilter:
    """``findings list`` filters; every one given must hold."""

    open_only: bool = False
    """Only findings not resolved (open or waived)."""
    breached: bool = False
    clause: str | None = None
    """A clause of any control the finding breaks."""
    control: str | None = None
    since: dt.date | None = None
    """Opened on or after this day (UTC)."""

    def keep(self, finding: Finding) -> bool:
        """Whether ``finding`` passes every filter."""
        if self.open_only and not finding.live:
            return False
        if self.breached and not finding.breached:
            return False
        if self.clause is not None and self.clause not in finding.clock.clauses:
            return False
        if self.control is not None and self.control not in finding.controls:
            return False
        return self.since is None or finding.opened_at.astimezone(dt.UTC).date() >= self.since


def select(findings: Iterable[Finding], wanted: FindingFilter) -> list[Finding]:
    """The findings ``wanted`` keeps, most recently opened first."""
    kept = [f for f in findings if wanted.keep(f)]
    return sorted(kept, key=lambda f: f.opened_at, reverse=True)


def _t(moment: dt.datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def finding_json(finding: Finding) -> dict[str, Any]:
    """One finding with its clock, breaches and timeline."""
    clock = finding.clock
    return {
        "id": finding.id,
        "fingerprint": finding.fingerprint,
        "life": finding.life,
        "status": finding.status.value,
        "manual": finding.manual,
        "policy": finding.policy,
        "title": finding.title,
        "controls": list(finding.controls),
        "severity": finding.severity.value,
        "location": {"file": finding.file, "line": finding.line},
        "clause": clock.clause,
        "clauses": list(clock.clauses),
        "opened_at": format_time(finding.opened_at),
        "opened_run": finding.opened_run,
        "resolved_at": _t(finding.resolved_at),
        "resolved_run": finding.resolved_run,
        "due": _t(clock.due),
        "plan_due": _t(clock.plan_due),
        "notify_due": _t(clock.notify_due),
        "due_before": BEFORE_NEXT_RELEASE if clock.before_release else None,
        "waiver": finding.waiver,
        "acked_at": _t(finding.acked_at),
        "planned_at": _t(finding.planned_at),
        "breached": finding.breached,
        "past_cap": _past_cap(finding),
        "breaches": [
            {"kind": b.kind, "at": format_time(b.at), "detail": b.detail} for b in finding.breaches
        ],
        "timeline": [
            {
                "seq": e.seq,
                "at": format_time(e.at),
                "event": e.kind.value.removeprefix("finding."),
                "run_id": e.run_id,
                "by": e.by,
                "detail": e.detail,
                **({"count": e.count} if e.count is not None else {}),
            }
            for e in finding.events
        ],
    }


def _past_cap(finding: Finding) -> dict[str, Any] | None:
    """For the finding that follows a policy's violations past the ledger's cap: how many
    the latest run that had any counted, and which run."""
    event = finding.overflow
    if event is None:
        return None
    return {"count": event.count, "run_id": event.run_id, "at": format_time(event.at)}


def findings_document(
    state: LedgerState, findings: Sequence[Finding], location: str
) -> dict[str, Any]:
    """``findings list --format json``."""
    return {
        "apiVersion": API_VERSION,
        "kind": "FindingList",
        "ledger": location,
        "now": format_time(state.now),
        "records": state.records,
        "findings": [finding_json(f) for f in findings],
    }


def _day(moment: dt.datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(dt.UTC).date().isoformat()


def _due_text(finding: Finding) -> str:
    if finding.clock.due is not None:
        return _day(finding.clock.due)
    return "next-prod" if finding.clock.before_release else "-"


_NEXT_RELEASE = "before the next production release"
_HEADER = ("ID", "STATUS", "CLAUSE", "OPENED", "DUE")
_WIDTHS = (16, 8, 17, 10, 10)


def findings_table(findings: Sequence[Finding], width: int = 80) -> str:
    """Two lines per finding: id, status, clause, opened, due and breach; then what broke."""
    if not findings:
        return "No findings.\n"
    lines = ["  ".join(h.ljust(w) for h, w in zip(_HEADER, _WIDTHS, strict=True)).rstrip()]
    for f in findings:
        cells = (f.id, f.status.value, f.clock.clause or "-", _day(f.opened_at), _due_text(f))
        row = "  ".join(c.ljust(w) for c, w in zip(cells, _WIDTHS, strict=True))
        lines.append((row + ("  BREACHED" if f.breached else "")).rstrip())
        source = f.policy or "manual"
        title = f.title
        if f.overflow is not None:
            # Short enough for 80 columns: the count first, the policy is named before it.
            title = f"{f.overflow.count} violation(s) past the ledger's cap (latest run)"
        lines.append("  " + truncate(one_line(f"{f.severity} {source}: {title}"), width - 2))
    breached = sum(1 for f in findings if f.breached)
    live = sum(1 for f in findings if f.live)
    lines.append("")
    lines.append(f"{len(findings)} finding(s): {live} not resolved, {breached} breached")
    return defuse_log_commands("\n".join(lines)) + "\n"


def finding_detail(finding: Finding) -> str:
    """``findings show``: the finding's facts, clocks, breaches and full timeline."""
    f = finding
    clock = f.clock
    facts = [
        ("status", f.status.value + (f" (waiver {f.waiver})" if f.waiver else "")),
        ("title", f.title),
        ("policy", f.policy or "opened by hand"),
        ("controls", ", ".join(f.controls) or "-"),
        ("severity", f.severity.value),
        (
            "clause",
            (clock.clause or "none (the register does not know its controls)")
            + (f" (control severity {clock.severity})" if clock.severity else ""),
        ),
        ("location", f.file + (f":{f.line}" if f.line else "") if f.file else "-"),
        ("opened", format_time(f.opened_at) + (f" by run {f.opened_run}" if f.opened_run else "")),
        ("due", _t(clock.due) or (_NEXT_RELEASE if clock.before_release else "-")),
    ]
    if clock.before_release and clock.due is not None:
        facts.append(("also due", _NEXT_RELEASE))
    if clock.plan_due is not None:
        facts.append(("plan due", format_time(clock.plan_due)))
    if clock.notify_due is not None:
        facts.append(("notify by", format_time(clock.notify_due)))
    if f.resolved_at is not None:
        by = f" by run {f.resolved_run}" if f.resolved_run else ""
        facts.append(("resolved", format_time(f.resolved_at) + by))
    facts.append(("fingerprint", f"{f.fingerprint} (life {f.life})"))
    lines = [f"finding {f.id}"]
    lines += [f"  {name + ':':<13}{one_line(value)}" for name, value in facts]
    lines.append("")
    if f.breaches:
        lines.append("Breaches:")
        lines += [f"  {format_time(b.at)}  {b.kind}: {one_line(b.detail)}" for b in f.breaches]
    else:
        lines.append("Breaches: none")
    lines.append("")
    lines.append("Timeline:")
    for e in f.events:
        who = f"run {e.run_id}" if e.run_id else (f"by {e.by}" if e.by else "")
        detail = f": {e.detail}" if e.detail else ""
        event = e.kind.value.removeprefix("finding.")
        lines.append(f"  {format_time(e.at)}  {event:<9} " + one_line(f"{who}{detail}"))
    return defuse_log_commands("\n".join(lines)) + "\n"
