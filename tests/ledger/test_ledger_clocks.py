"""Remediation clocks and breaches (``clocks.py``), deadline by deadline, at the boundaries.

Written to kill mutants (docs/mutation-testing.md, "Ledger: chain, records, state, clocks,
git store"): hours are hours, a 0-day term is due at once, the strictest term governs, and a
breach is reported the moment its deadline passes, neither earlier nor later.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from ledger_project import day

from compliancegate.ledger.clocks import (
    NO_CLOCK,
    Clock,
    breaches,
    clause_clock,
    controls_clock,
    strictest,
)
from compliancegate.ledger.records import format_time
from compliancegate.model import Control, ControlRef, Register, Severity, Standard

T0 = day(0)
SECOND = dt.timedelta(seconds=1)


def clock_of(terms: dict[str, Any], severity: Severity = Severity.HIGH) -> Clock:
    return clause_clock("c", severity, T0, {"c": terms})


@pytest.mark.parametrize("hours", [0, 1, 4, 24, 72, 0.5])
def test_notify_within_hours_counts_hours(hours: float) -> None:
    clock = clock_of({"notify_within_hours": hours})
    assert clock.notify_due == T0 + dt.timedelta(hours=hours)
    assert clock.due is None and clock.plan_due is None


@pytest.mark.parametrize("hours", [-1, True, "4", None])
def test_a_notify_term_that_is_not_hours_is_ignored(hours: Any) -> None:
    assert clock_of({"notify_within_hours": hours}).notify_due is None


@pytest.mark.parametrize("term", ["high", "close_within_days", "lead_days"])
@pytest.mark.parametrize("days", [0, 1, 30, 2.5])
def test_a_day_term_counts_days_from_the_opening_and_0_is_due_at_once(
    term: str, days: float
) -> None:
    clock = clock_of({term: days})
    assert clock.due == T0 + dt.timedelta(days=days)
    assert clock.clause == "c" and clock.clauses == ("c",) and clock.severity is Severity.HIGH


@pytest.mark.parametrize("days", [0, 3])
def test_plan_within_days_sets_the_plan_deadline_only(days: int) -> None:
    clock = clock_of({"plan_within_days": days})
    assert clock.plan_due == T0 + dt.timedelta(days=days) and clock.due is None


@pytest.mark.parametrize("value", [-1, -0.5, True, False, "3", None, [3]])
def test_a_day_term_that_is_not_a_number_of_days_is_ignored(value: Any) -> None:
    for term in ("high", "close_within_days", "lead_days", "plan_within_days"):
        clock = clock_of({term: value})
        assert (clock.due, clock.plan_due) == (None, None)


def test_the_severity_picks_its_own_term() -> None:
    terms = {"critical": 1, "high": 5, "moderate": 10, "low": 20}
    for severity, days in zip(Severity, (1, 5, 10, 20), strict=True):
        assert clock_of(terms, severity).due == T0 + dt.timedelta(days=days)


@pytest.mark.parametrize(
    ("terms", "due"),
    [
        ({"high": 5, "close_within_days": 3}, 3),
        ({"high": 3, "close_within_days": 5}, 3),
        ({"high": 0, "close_within_days": 5, "lead_days": 9}, 0),
        ({"high": 9, "close_within_days": 7, "lead_days": 0}, 0),
    ],
)
def test_the_strictest_term_of_a_clause_governs(terms: dict[str, int], due: int) -> None:
    assert clock_of(terms).due == day(due)


def test_lead_days_count_back_from_the_successor_then_the_sunset() -> None:
    def standard(effective: dt.date | None, sunset: dt.date | None) -> Standard:
        return Standard("s", "S", None, None, effective, sunset, None, ())

    successor = standard(dt.date(2027, 3, 1), None)
    old = standard(None, dt.date(2027, 6, 1))
    midnight = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    sla = {"c": {"lead_days": 10}}
    assert clause_clock("c", Severity.LOW, T0, sla, old, successor).due == midnight - dt.timedelta(
        10
    )
    sunset = dt.datetime(2027, 6, 1, tzinfo=dt.UTC) - dt.timedelta(10)
    assert clause_clock("c", Severity.LOW, T0, sla, old, None).due == sunset
    assert clause_clock("c", Severity.LOW, T0, sla, old, standard(None, None)).due == sunset
    bare = standard(None, None)
    assert clause_clock("c", Severity.LOW, T0, sla, bare, None).due == T0 + dt.timedelta(10)


def test_before_release_is_exactly_the_next_production_release() -> None:
    assert clock_of({"before": "next-production-release"}).before_release is True
    assert clock_of({"before": "next-release"}).before_release is False
    assert clock_of({}).before_release is False
    assert clause_clock("missing", Severity.LOW, T0, {"c": {"high": 1}}).due is None


def _clock(clause: str, due: int | None, **kw: Any) -> Clock:
    return Clock(
        clause,
        (clause,),
        Severity.LOW if due else Severity.HIGH,
        None if due is None else day(due),
        **kw,
    )


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_the_strictest_clock_governs_in_any_order(order: tuple[int, ...]) -> None:
    clocks = [
        Clock("late", ("late",), Severity.LOW, day(30), day(9), day(0.5)),
        Clock("early", ("early",), Severity.CRITICAL, day(2), None, day(1)),
        Clock("mid", ("mid",), Severity.HIGH, day(10), day(4), None),
    ]
    chosen = [clocks[i] for i in order]
    merged = strictest(chosen)
    assert merged.clause == "early" and merged.severity is Severity.CRITICAL
    assert (merged.due, merged.plan_due, merged.notify_due) == (day(2), day(4), day(0.5))
    assert merged.clauses == tuple(c.clause for c in chosen)
    assert merged.before_release is False


def test_without_a_dated_deadline_a_break_fix_clause_governs() -> None:
    plain = Clock("plain", ("plain",), Severity.LOW, None)
    breakfix = Clock("bf", ("bf",), Severity.HIGH, None, before_release=True)
    assert strictest([plain, breakfix]).clause == "bf"
    assert strictest([plain, breakfix]).before_release is True
    assert strictest([plain, Clock("x", ("x", "plain"), Severity.LOW, None)]).clauses == (
        "plain",
        "x",
    )
    assert strictest([plain]).clause == "plain"
    assert strictest([]) == NO_CLOCK


def test_controls_clock_reads_the_register() -> None:
    controls = (
        Control("s", "A", "a", Severity.LOW, "slow"),
        Control("s", "B", "b", Severity.CRITICAL, "fast"),
    )
    register = Register(
        (),
        (Standard("s", "S", None, None, None, None, None, controls),),
        {"slow": {"low": 30}, "fast": {"critical": 1, "notify_within_hours": 4}},
        {ControlRef(f"s:{c.id}"): c for c in controls},
    )
    clock = controls_clock(register, ["s:missing", "s:A", "s:B"], T0)
    assert clock.clause == "fast" and clock.clauses == ("slow", "fast")
    assert clock.due == day(1) and clock.notify_due == T0 + dt.timedelta(hours=4)
    assert controls_clock(register, ["s:missing"], T0) == NO_CLOCK
    assert controls_clock(None, ["s:A"], T0) == NO_CLOCK


def test_controls_clock_counts_lead_days_from_the_successor_or_the_sunset() -> None:
    lead = Control("old", "L", "l", Severity.LOW, "lead")
    orphan = Control("unknown-standard", "O", "o", Severity.LOW, "lead")
    new = Control("new", "N", "n", Severity.LOW, "lead")
    old = Standard("old", "Old", None, None, None, dt.date(2027, 6, 1), "new", (lead,))
    successor = Standard("new", "New", None, None, dt.date(2027, 3, 1), None, None, (new,))
    alone = Standard("old", "Old", None, None, None, dt.date(2027, 6, 1), None, (lead,))
    refs = {ControlRef("old:L"): lead, ControlRef("x:O"): orphan, ControlRef("new:N"): new}
    sla = {"lead": {"lead_days": 10}}
    register = Register((), (old, successor), sla, refs)
    effective = dt.datetime(2027, 3, 1, tzinfo=dt.UTC) - dt.timedelta(10)
    assert controls_clock(register, ["old:L"], T0).due == effective
    sunset = dt.datetime(2027, 6, 1, tzinfo=dt.UTC) - dt.timedelta(10)
    assert controls_clock(Register((), (alone,), sla, refs), ["old:L"], T0).due == sunset
    # A control whose standard the register does not list counts from the opening.
    assert controls_clock(register, ["x:O"], T0).due == T0 + dt.timedelta(10)


def test_clock_json_round_trips_and_refuses_malformed_clocks() -> None:
    clock = Clock("c", ("c", "d"), Severity.HIGH, day(1), day(2), day(0.5), True)
    assert Clock.from_json(clock.to_json()) == clock
    assert Clock.from_json(NO_CLOCK.to_json()) == NO_CLOCK
    good = clock.to_json()
    for key, value in [
        ("clause", 5),
        ("clauses", "c"),
        ("clauses", [1]),
        ("before_release", 1),
        ("severity", "huge"),
        ("due", 5),
        ("due", "yesterday"),
    ]:
        with pytest.raises(ValueError):
            Clock.from_json({**good, key: value})
    for key in good:
        with pytest.raises(ValueError, match="malformed clock"):
            Clock.from_json({k: v for k, v in good.items() if k != key})


# ---------------------------------------------------------------- breaches

DUE = Clock("c", ("c",), Severity.HIGH, day(3))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (day(3) - SECOND, []),
        (day(3), []),
        (day(3) + SECOND, [("due", day(3))]),
        (day(4), [("due", day(3))]),
        (day(40), [("due", day(3))]),
    ],
)
def test_a_due_breach_is_reported_the_moment_the_deadline_passes(
    now: dt.datetime, expected: list[tuple[str, dt.datetime]]
) -> None:
    found = breaches(DUE, [(day(0), None)], None, None, [], now)
    assert [(b.kind, b.at) for b in found] == expected
    if found:
        assert found[0].detail == f"not resolved by {format_time(day(3))}"


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([(day(0), day(3))], []),
        ([(day(0), day(3) + SECOND)], [day(3)]),
        ([(day(0), day(1)), (day(5), None)], [day(5)]),
        ([(day(0), day(1)), (day(2), day(2.5)), (day(4), day(6))], [day(4)]),
        ([(day(0), day(4)), (day(5), None)], [day(3)]),
    ],
)
def test_a_due_breach_counts_only_open_time_and_is_reported_once(
    spans: list[tuple[dt.datetime, dt.datetime | None]], expected: list[dt.datetime]
) -> None:
    found = breaches(DUE, spans, None, None, [], day(10))
    assert [b.at for b in found] == expected and all(b.kind == "due" for b in found)


@pytest.mark.parametrize(
    ("planned", "resolved", "now", "breached"),
    [
        (None, None, day(2), False),
        (None, None, day(2) + SECOND, True),
        (day(2), None, day(9), False),
        (day(2) + SECOND, None, day(9), True),
        (None, day(1), day(9), False),
        (day(5), day(1), day(9), False),
        (day(1), day(5), day(9), False),
    ],
)
def test_a_plan_breach_is_met_by_a_plan_or_a_resolution_in_time(
    planned: dt.datetime | None, resolved: dt.datetime | None, now: dt.datetime, breached: bool
) -> None:
    clock = Clock("c", ("c",), Severity.HIGH, None, plan_due=day(2))
    found = breaches(clock, [], planned, resolved, [], now)
    assert [(b.kind, b.at) for b in found] == ([("plan", day(2))] if breached else [])


def test_breaches_are_sorted_by_time_with_releases_named() -> None:
    clock = Clock("c", ("c",), Severity.HIGH, day(3), plan_due=day(2))
    found = breaches(clock, [(day(0), None)], None, None, [(day(5), "r5"), (day(1), "r1")], day(9))
    assert [(b.kind, b.at) for b in found] == [
        ("release", day(1)),
        ("plan", day(2)),
        ("due", day(3)),
        ("release", day(5)),
    ]
    assert found[0].detail == "production release r1 ran while it was open"
    assert found[1].detail == f"no remediation plan by {format_time(day(2))}"
    assert breaches(NO_CLOCK, [(day(0), None)], None, None, [], day(99)) == ()


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("clause", 5, "clause"),
        ("clause", ["c"], "clause"),
        ("clauses", "c", "clauses"),
        ("clauses", [1], "clauses"),
        ("clauses", None, "clauses"),
        ("before_release", 1, "before_release"),
        ("before_release", None, "before_release"),
        ("due", 5, "5 is not a time"),
        ("plan_due", [], "[] is not a time"),
    ],
)
def test_a_malformed_clock_names_the_field_that_is_wrong(key: str, value: Any, reason: str) -> None:
    # ``ledger verify`` shows this reason for the record that holds the clock.
    good = Clock("c", ("c",), Severity.HIGH, day(1)).to_json()
    with pytest.raises(ValueError) as caught:
        Clock.from_json({**good, key: value})
    assert str(caught.value) == reason


@pytest.mark.parametrize("key", ["clause", "clauses", "severity", "before_release", "due"])
def test_a_clock_without_a_field_names_it(key: str) -> None:
    good = Clock("c", ("c",), Severity.HIGH, day(1)).to_json()
    with pytest.raises(ValueError) as caught:
        Clock.from_json({k: v for k, v in good.items() if k != key})
    assert str(caught.value) == f"malformed clock ('{key}')"
