"""Remediation clocks: when a finding is due, from the register's SLA (SPEC section 3).

A finding's clock comes from the controls it breaks: each control's ``clause`` names an entry
of the register's ``sla`` and its ``severity`` picks the days within it. The terms of an SLA
entry are read by what they say, so a register's own clause works the same way:

- ``critical``/``high``/``moderate``/``low: DAYS``: due that many days after the opening;
- ``close_within_days``: due that many days after the opening (audit findings);
- ``plan_within_days``: a remediation plan is due that many days after the opening;
- ``notify_within_hours``: notification is due that many hours after the opening;
- ``lead_days``: due that many days before the successor standard is effective (or, without
  one, before the standard's sunset; without either date, that many days after the opening);
- ``before: next-production-release``: due before the next production release.

When a finding breaks several controls every deadline is the strictest (earliest) of theirs.
Times are computed, never read from a wall clock: callers pass ``now`` (tests inject it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compliancegate.ledger.records import format_time, parse_time
from compliancegate.model import ControlRef, Register, Severity, Standard

BEFORE_NEXT_RELEASE = "next-production-release"

Now = Callable[[], dt.datetime]
"""A clock: returns the current time (aware, UTC). Injected wherever time is read."""


def system_now() -> dt.datetime:
    """The wall clock in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Clock:
    """The deadlines of one finding's life, fixed when it opens."""

    clause: str | None
    """The clause whose deadline governs (the earliest due), or None without a register."""
    clauses: tuple[str, ...]
    """Every clause of the controls the finding breaks."""
    severity: Severity | None
    """Severity of the governing control."""
    due: dt.datetime | None
    """When the finding must be resolved (None: no dated deadline)."""
    plan_due: dt.datetime | None = None
    """When a remediation plan must be on record (audit findings)."""
    notify_due: dt.datetime | None = None
    """When it must have been notified (security incidents)."""
    before_release: bool = False
    """True when it must be fixed before the next production release (break-fix)."""

    def to_json(self) -> dict[str, Any]:
        """The clock as a record's ``data.clock``."""
        return {
            "clause": self.clause,
            "clauses": list(self.clauses),
            "severity": None if self.severity is None else self.severity.value,
            "due": _time_or_none(self.due),
            "plan_due": _time_or_none(self.plan_due),
            "notify_due": _time_or_none(self.notify_due),
            "before_release": self.before_release,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Clock:
        """Read ``data.clock`` back; ``ValueError`` when it is malformed."""
        try:
            clause = data["clause"]
            clauses = data["clauses"]
            severity = data["severity"]
            before = data["before_release"]
            if clause is not None and not isinstance(clause, str):
                raise ValueError("clause")
            if not isinstance(clauses, list) or not all(isinstance(c, str) for c in clauses):
                raise ValueError("clauses")
            if not isinstance(before, bool):
                raise ValueError("before_release")
            return cls(
                clause=clause,
                clauses=tuple(clauses),
                severity=None if severity is None else Severity(severity),
                due=_parse_or_none(data["due"]),
                plan_due=_parse_or_none(data["plan_due"]),
                notify_due=_parse_or_none(data["notify_due"]),
                before_release=before,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed clock ({exc})") from None


NO_CLOCK = Clock(None, (), None, None)
"""The clock of a finding whose controls the register does not know (or no register)."""


def _time_or_none(moment: dt.datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _parse_or_none(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a time")
    return parse_time(value)


def _days(value: Any) -> dt.timedelta | None:
    # bool is an int: a stray ``true`` in a register is not one day.
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return dt.timedelta(days=value)
    return None


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def clause_clock(
    clause: str,
    severity: Severity,
    opened_at: dt.datetime,
    sla: Mapping[str, Mapping[str, Any]],
    standard: Standard | None = None,
    successor: Standard | None = None,
) -> Clock:
    """The clock of one control: ``clause`` and ``severity`` in ``sla``, from ``opened_at``.

    ``standard`` and ``successor`` give the dates a ``lead_days`` term counts back from.
    """
    terms = sla.get(clause) or {}
    dues: list[dt.datetime] = []
    by_severity = _days(terms.get(severity.value))
    if by_severity is not None:
        dues.append(opened_at + by_severity)
    close = _days(terms.get("close_within_days"))
    if close is not None:
        dues.append(opened_at + close)
    lead = _days(terms.get("lead_days"))
    if lead is not None:
        target = None
        if successor is not None and successor.effective is not None:
            target = successor.effective
        elif standard is not None and standard.sunset is not None:
            target = standard.sunset
        dues.append(_midnight(target) - lead if target is not None else opened_at + lead)
    plan = _days(terms.get("plan_within_days"))
    hours = terms.get("notify_within_hours")
    notify = None
    if isinstance(hours, int | float) and not isinstance(hours, bool) and hours >= 0:
        notify = opened_at + dt.timedelta(hours=hours)
    return Clock(
        clause=clause,
        clauses=(clause,),
        severity=severity,
        due=min(dues) if dues else None,
        plan_due=None if plan is None else opened_at + plan,
        notify_due=notify,
        before_release=terms.get("before") == BEFORE_NEXT_RELEASE,
    )


def _earliest(values: Sequence[dt.datetime | None]) -> dt.datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def strictest(clocks: Sequence[Clock]) -> Clock:
    """One clock holding the earliest of every deadline of ``clocks``.

    The governing clause is the one with the earliest due date; with no dated deadline it
    is a break-fix clause when there is one, else the first.
    """
    if not clocks:
        return NO_CLOCK
    clauses = tuple(dict.fromkeys(c for clock in clocks for c in clock.clauses))
    dated = [c for c in clocks if c.due is not None]
    if dated:
        governing = min(dated, key=lambda c: c.due or dt.datetime.max.replace(tzinfo=dt.UTC))
    else:
        governing = next((c for c in clocks if c.before_release), clocks[0])
    return Clock(
        clause=governing.clause,
        clauses=clauses,
        severity=governing.severity,
        due=_earliest([c.due for c in clocks]),
        plan_due=_earliest([c.plan_due for c in clocks]),
        notify_due=_earliest([c.notify_due for c in clocks]),
        before_release=any(c.before_release for c in clocks),
    )


def controls_clock(
    register: Register | None, controls: Sequence[str], opened_at: dt.datetime
) -> Clock:
    """The strictest clock of the register's ``controls`` (``STANDARD:CONTROL``) for a
    finding opened at ``opened_at``; ``NO_CLOCK`` when the register knows none of them."""
    if register is None:
        return NO_CLOCK
    standards = {s.id: s for s in register.standards}
    clocks = []
    for ref in controls:
        control = register.control(ControlRef(ref))
        if control is None:
            continue
        standard = standards.get(control.standard)
        successor = None
        if standard is not None and standard.superseded_by:
            successor = standards.get(standard.superseded_by)
        clocks.append(
            clause_clock(
                control.clause, control.severity, opened_at, register.sla, standard, successor
            )
        )
    return strictest(clocks)


# --------------------------------------------------------------------------- breaches


@dataclass(frozen=True)
class Breach:
    """A deadline a finding's life missed."""

    kind: str
    """``due`` (not resolved in time), ``plan`` (no plan in time) or ``release`` (a
    production release ran while a break-fix finding was open)."""
    at: dt.datetime
    """When the deadline was missed."""
    detail: str


def breaches(
    clock: Clock,
    open_spans: Sequence[tuple[dt.datetime, dt.datetime | None]],
    planned_at: dt.datetime | None,
    resolved_at: dt.datetime | None,
    releases: Sequence[tuple[dt.datetime, str]],
    now: dt.datetime,
) -> tuple[Breach, ...]:
    """The deadlines missed by one life, as of ``now``.

    ``open_spans`` are the times the finding was open and not waived (the last one ends at
    None while it still is): a waiver is an approved exception, so time under it does not
    count against ``due``, but the deadline itself does not move. ``releases`` are the
    production runs (time, run id) that found the break-fix finding open.
    """
    found: list[Breach] = []
    if clock.due is not None:
        for start, end in open_spans:
            if (end or now) > clock.due:
                at = max(start, clock.due)
                found.append(Breach("due", at, f"not resolved by {format_time(clock.due)}"))
                break
    if clock.plan_due is not None:
        met = _earliest([planned_at, resolved_at])
        if (met or now) > clock.plan_due:
            text = f"no remediation plan by {format_time(clock.plan_due)}"
            found.append(Breach("plan", clock.plan_due, text))
    for at, run_id in releases:
        found.append(Breach("release", at, f"production release {run_id} ran while it was open"))
    return tuple(sorted(found, key=lambda b: b.at))
