"""Deriving findings from records (``state.py``), record by record.

Written to kill mutants (docs/mutation-testing.md, "Ledger: chain, records, state, clocks,
git store"): every record that contradicts the ones before it is refused with its reason,
and what is derived from the ones that do not is checked field by field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from ledger_project import day

from compliancegate.ledger.chain import GENESIS
from compliancegate.ledger.clocks import NO_CLOCK, Clock
from compliancegate.ledger.interface import LedgerError
from compliancegate.ledger.records import Record, RecordKind
from compliancegate.ledger.state import (
    FindingStatus,
    StateBuilder,
    StateError,
    finding_id,
)
from compliancegate.model import Severity

CLOCK = Clock("c", ("c",), Severity.HIGH, day(2), None, None, False)


class Ledger:
    """Records fed one at a time into a ``StateBuilder``."""

    def __init__(self) -> None:
        self.builder = StateBuilder()
        self.seq = 0

    def add(self, kind: RecordKind, at: dt.datetime, /, **data: Any) -> Record:
        self.seq += 1
        record = Record(self.seq, GENESIS, kind, at, data, f"{self.seq:064x}")
        self.builder.apply(record)
        return record

    def run(self, op: str, at: dt.datetime, run_id: str = "r", **changed: Any) -> None:
        data: dict[str, Any] = {
            "environment": "staging",
            "commit": None,
            "pipeline": None,
            "decision": "compliant",
        }
        self.add(
            RecordKind.RUN,
            at,
            op=op,
            run_id=run_id,
            branch=None,
            fail_on="low",
            tool_version="t",
            policies=1,
            evaluated=1,
            violations=0,
            changes={},
            **(data | changed),
        )

    def open(
        self,
        fingerprint: str,
        at: dt.datetime,
        *,
        op: str = "run-op",
        life: int = 1,
        fid: str | None = None,
        manual: bool = False,
        waiver: dict[str, Any] | None = None,
        clock: Clock = CLOCK,
        kind: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> str:
        found = fid if fid is not None else finding_id(fingerprint, life)
        self.add(
            RecordKind.OPENED,
            at,
            finding=found,
            fingerprint=fingerprint,
            life=life,
            op=op,
            run_id=None if manual else "r",
            manual=manual,
            policy=None if manual else "p",
            title="t",
            controls=["s:c"],
            severity="high",
            kind=kind,
            file=file,
            line=line,
            clock=clock.to_json(),
            waiver=waiver,
            by="me" if manual else None,
        )
        return found

    def resolve(
        self,
        fid: str,
        at: dt.datetime,
        run_id: str | None = "r",
        by: str | None = None,
        **extra: Any,
    ) -> None:
        self.add(RecordKind.RESOLVED, at, finding=fid, run_id=run_id, by=by, text="gone", **extra)


def refused(ledger: Ledger, apply: Any, message: str) -> None:
    before = ledger.builder.records
    with pytest.raises(StateError) as caught:
        apply()
    assert message in str(caught.value)
    assert ledger.builder.records == before


def test_finding_ids_are_16_hex_digits_of_fingerprint_and_life() -> None:
    ids = {finding_id(fp, life) for fp in ("a", "b", "a\x001") for life in (1, 2, 3)}
    assert len(ids) == 9
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert finding_id("a", 1) == finding_id("a", 1)
    assert finding_id("fp", 2) == hashlib.sha256(b"finding\x00fp\x002").hexdigest()[:16]


@pytest.mark.parametrize("status", ["open", "waived"])
def test_a_finding_opened_twice_is_refused(status: str) -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    waiver = {"id": "w"} if status == "waived" else None
    ledger.open("fp", day(0), waiver=waiver)
    # Its second life while the first is not over, and the first life again, are refused.
    refused(ledger, lambda: ledger.open("fp", day(1), life=2), "already has an open finding")
    refused(ledger, lambda: ledger.open("fp", day(1), life=1), "already has an open finding")
    # Another fingerprint opens, and after a resolution the same one opens its second life.
    ledger.open("other", day(1))
    ledger.resolve(finding_id("fp", 1), day(2))
    refused(ledger, lambda: ledger.open("fp", day(3), life=1), "life 1 of a fingerprint with 1")
    refused(ledger, lambda: ledger.open("fp", day(3), life=3), "life 3 of a fingerprint with 1")
    second = ledger.open("fp", day(3), life=2)
    assert ledger.builder.lives("fp") == 2
    state = ledger.builder.freeze(day(3))
    assert [f.life for f in state.findings.values()] == [1, 1, 2]
    assert state.findings[second].status is FindingStatus.OPEN  # type: ignore[index]


@pytest.mark.parametrize("life", [1, 2, 3])
def test_a_finding_whose_id_is_not_its_fingerprint_and_life_is_refused(life: int) -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    for n in range(1, life):
        ledger.resolve(ledger.open("fp", day(0), life=n), day(0))
    for wrong in (finding_id("fp", life + 1), finding_id("other", life), "0" * 16):
        refused(
            ledger,
            lambda wrong=wrong: ledger.open("fp", day(1), life=life, fid=wrong),
            f"finding id {wrong} is not {finding_id('fp', life)}",
        )
    assert ledger.builder.live_finding("fp") is None
    ledger.open("fp", day(1), life=life)
    live = ledger.builder.live_finding("fp")
    assert live is not None and live.id == finding_id("fp", life) and live.life == life


def test_a_finding_resolved_twice_is_refused() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    fid = ledger.open("fp", day(0))
    ledger.resolve(fid, day(1))
    refused(ledger, lambda: ledger.resolve(fid, day(2)), f"finding {fid} is already resolved")
    refused(ledger, lambda: ledger.resolve("0" * 16, day(2)), "was never opened")
    state = ledger.builder.freeze(day(3))
    finding = state.findings[fid]  # type: ignore[index]
    assert finding.status is FindingStatus.RESOLVED and finding.resolved_at == day(1)
    assert ledger.builder.live_finding_by_id(fid) is None
    assert ledger.builder.status(fid) is FindingStatus.RESOLVED
    assert ledger.builder.status("0" * 16) is None


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (RecordKind.WAIVED, {"run_id": "r", "waiver": {"id": "w"}}),
        (RecordKind.UNWAIVED, {"run_id": "r"}),
        (RecordKind.BREACHED, {"run_id": "r", "reason": "x"}),
        (RecordKind.ACKED, {"op": "ack", "by": "me", "text": None}),
        (
            RecordKind.PLANNED,
            {"op": "plan", "by": "me", "file": "f", "sha256": "0" * 64, "plan": "p"},
        ),
    ],
)
def test_no_event_but_a_note_follows_a_resolution(kind: RecordKind, data: dict[str, Any]) -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    fid = ledger.open("fp", day(0))
    ledger.resolve(fid, day(1))
    refused(ledger, lambda: ledger.add(kind, day(2), finding=fid, **data), "already resolved")
    ledger.add(RecordKind.NOTED, day(2), finding=fid, op="note", by="me", text="after")
    ledger.add(RecordKind.NOTED, day(2), finding=fid, op="note2", by="you", text="again")
    refused(
        ledger,
        lambda: ledger.add(RecordKind.NOTED, day(2), finding=fid, op="note", by="me", text="x"),
        "operation note is recorded twice",
    )
    finding = ledger.builder.freeze(day(3)).findings[fid]  # type: ignore[index]
    assert [(e.kind, e.by, e.detail) for e in finding.events][-2:] == [
        (RecordKind.NOTED, "me", "after"),
        (RecordKind.NOTED, "you", "again"),
    ]


def test_a_finding_opened_by_a_run_needs_that_run_and_a_manual_one_its_own_operation() -> None:
    ledger = Ledger()
    refused(ledger, lambda: ledger.open("fp", day(0)), "which has no run")
    ledger.run("run-op", day(0))
    ledger.open("fp", day(0))
    ledger.open("m", day(0), op="manual-op", manual=True)
    refused(
        ledger, lambda: ledger.open("m2", day(0), op="manual-op", manual=True), "recorded twice"
    )
    refused(ledger, lambda: ledger.run("run-op", day(1)), "operation run-op is recorded twice")
    assert ledger.builder.has_op("manual-op") and not ledger.builder.has_op("other")


def test_only_a_manual_finding_is_resolved_by_hand_and_with_its_operation() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    auto = ledger.open("fp", day(0))
    manual = ledger.open("m", day(0), op="m-op", manual=True)
    refused(ledger, lambda: ledger.resolve(auto, day(1), run_id=None), "opened by hand")
    refused(ledger, lambda: ledger.resolve(manual, day(1), run_id=None), "names its operation")
    refused(
        ledger,
        lambda: ledger.resolve(manual, day(1), run_id=None, op=5, by="me"),
        "names its operation",
    )
    ledger.resolve(manual, day(1), run_id=None, op="close-op", by="me")
    assert ledger.builder.has_op("close-op")
    assert ledger.builder.status(manual) is FindingStatus.RESOLVED


def test_waiving_and_unwaiving_follow_the_status_and_stop_the_clock() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    fid = ledger.open("fp", day(0))  # due day(2)
    refused(
        ledger,
        lambda: ledger.add(RecordKind.UNWAIVED, day(0), finding=fid, run_id="r"),
        "is not waived",
    )
    ledger.add(RecordKind.WAIVED, day(1), finding=fid, run_id="r", waiver={"id": "w1"})
    refused(
        ledger,
        lambda: ledger.add(RecordKind.WAIVED, day(1), finding=fid, run_id="r", waiver={"id": "w2"}),
        "is not open",
    )
    state = ledger.builder.freeze(day(5))
    finding = state.findings[fid]  # type: ignore[index]
    # Waived from day 1: never open past day 2.
    assert finding.status is FindingStatus.WAIVED and finding.waiver == "w1"
    assert finding.breaches == ()
    ledger.add(RecordKind.UNWAIVED, day(4), finding=fid, run_id="r")
    finding = ledger.builder.freeze(day(5)).findings[fid]  # type: ignore[index]
    assert finding.status is FindingStatus.OPEN and finding.waiver is None
    assert [(b.kind, b.at) for b in finding.breaches] == [("due", day(4))]
    assert [(e.kind, e.run_id, e.detail) for e in finding.events] == [
        (RecordKind.OPENED, "r", None),
        (RecordKind.WAIVED, "r", "waived by w1"),
        (RecordKind.UNWAIVED, "r", "the waiver no longer covers it"),
    ]
    # Opened under a waiver: waived from the start, its clock stopped.
    waived = ledger.open("fp2", day(0), waiver={"id": "w9"})
    finding = ledger.builder.freeze(day(9)).findings[waived]  # type: ignore[index]
    assert finding.status is FindingStatus.WAIVED and finding.breaches == ()
    assert [e.detail for e in finding.events] == ["waived by w9"]


@pytest.mark.parametrize("waiver", [{"id": 5}, {"name": "w"}, "w", ["w"]])
def test_a_waiver_without_an_id_is_refused(waiver: Any) -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    with pytest.raises(StateError) as caught:
        ledger.open("fp", day(0), waiver=waiver)
    assert str(caught.value) == "a waiver must be an object with an id"


def test_lookup_by_prefix() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    fids = [ledger.open(f"fp{n}", day(0)) for n in range(300)]
    state = ledger.builder.freeze(day(1))
    target = fids[0]
    assert state.lookup(target).id == target
    assert state.lookup(f"  {target.upper()} ").id == target
    unique = next(n for n in range(1, 17) if sum(f.startswith(target[:n]) for f in fids) == 1)
    assert state.lookup(target[:unique]).id == target
    with pytest.raises(LedgerError) as caught:
        state.lookup("  ")
    assert (caught.value.message, caught.value.hint) == ("a finding id is required", None)
    with pytest.raises(LedgerError) as caught:
        state.lookup("g")
    assert caught.value.message == "no finding has id 'g'"
    assert caught.value.hint == "compliancegate findings list shows them"
    assert len(state.live()) == 300 and state.records == 301


@pytest.mark.parametrize("shared", [2, 3, 5, 6])
def test_an_ambiguous_prefix_names_the_first_five_ids(shared: int) -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    fids = [ledger.open(f"fp{n}", day(0)) for n in range(400)]
    state = ledger.builder.freeze(day(1))
    # The shortest prefix that exactly ``shared`` findings start with.
    prefix = next(
        p
        for n in (1, 2, 3)
        for p in sorted({f[:n] for f in fids})
        if sum(f.startswith(p) for f in fids) == shared
    )
    matching = [f for f in fids if f.startswith(prefix)]
    with pytest.raises(LedgerError) as caught:
        state.lookup(prefix)
    ids = ", ".join(matching[:5])
    assert caught.value.message == f"{prefix!r} is the start of {shared} finding ids ({ids})"
    assert caught.value.hint == "give more of the id"


def test_the_frozen_state_carries_every_opening_detail_and_event() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0), run_id="r")
    fid = ledger.open("fp", day(0), clock=NO_CLOCK)
    ledger.add(RecordKind.ACKED, day(1), finding=fid, op="a1", by="me", text="first")
    ledger.add(RecordKind.ACKED, day(2), finding=fid, op="a2", by="you", text=None)
    ledger.add(
        RecordKind.PLANNED,
        day(2),
        finding=fid,
        op="p1",
        by="me",
        file="plan.md",
        sha256="ab" * 32,
        plan="x",
    )
    ledger.add(
        RecordKind.PLANNED,
        day(3),
        finding=fid,
        op="p2",
        by="me",
        file="b.md",
        sha256="cd" * 32,
        plan="y",
    )
    ledger.add(RecordKind.BREACHED, day(3), finding=fid, run_id="prod", reason="released")
    state = ledger.builder.freeze(day(4))
    finding = state.findings[fid]  # type: ignore[index]
    assert (finding.acked_at, finding.planned_at) == (day(1), day(2))
    assert (finding.opened_at, finding.opened_run, finding.policy) == (day(0), "r", "p")
    assert [(b.kind, b.at) for b in finding.breaches] == [("release", day(3))]
    assert [(e.seq, e.kind, e.by, e.detail) for e in finding.events] == [
        (2, RecordKind.OPENED, None, None),
        (3, RecordKind.ACKED, "me", "first"),
        (4, RecordKind.ACKED, "you", None),
        (5, RecordKind.PLANNED, "me", f"plan plan.md (sha256 {'ab' * 6})"),
        (6, RecordKind.PLANNED, "me", f"plan b.md (sha256 {'cd' * 6})"),
        (7, RecordKind.BREACHED, None, "released"),
    ]
    assert state.head == f"{7:064x}" and state.records == 7
    assert [r.run_id for r in state.runs] == ["r"]


def test_a_manual_resolution_is_refused_with_its_exact_reason() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    auto = ledger.open("fp", day(0))
    manual = ledger.open("m", day(0), op="m-op", manual=True)
    for fid, extra, reason in [
        (auto, {"op": "x", "by": "me"}, "only a finding opened by hand can be resolved by hand"),
        (manual, {}, "a resolution by hand names its operation and who made it"),
        (manual, {"op": "x"}, "a resolution by hand names its operation and who made it"),
        (manual, {"op": "x", "by": 5}, "a resolution by hand names its operation and who made it"),
    ]:
        with pytest.raises(StateError) as caught:
            ledger.resolve(fid, day(1), run_id=None, **extra)
        # ``ledger verify`` shows this text as the reason the record is bad.
        assert str(caught.value) == reason


@pytest.mark.parametrize("waived", [False, True])
def test_a_resolution_drops_the_waiver_and_records_its_text(waived: bool) -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    fid = ledger.open("fp", day(0), waiver={"id": "w1"} if waived else None)
    assert ledger.builder.freeze(day(1)).findings[fid].waiver == ("w1" if waived else None)  # type: ignore[index]
    live = ledger.builder.freeze(day(1)).findings[fid]  # type: ignore[index]
    assert (live.resolved_at, live.resolved_run) == (None, None)
    ledger.resolve(fid, day(1), run_id="fixing-run")
    finding = ledger.builder.freeze(day(2)).findings[fid]  # type: ignore[index]
    assert (finding.resolved_at, finding.resolved_run) == (day(1), "fixing-run")
    # A resolved finding is covered by no waiver, whether one covered it before or not.
    assert finding.waiver is None
    assert (finding.events[-1].kind, finding.events[-1].detail) == (RecordKind.RESOLVED, "gone")


def plan(ledger: Ledger, fid: str, at: dt.datetime, op: str, text: str) -> None:
    ledger.add(
        RecordKind.PLANNED, at, finding=fid, op=op, by="me", file="f", sha256="0" * 64, plan=text
    )


def test_the_plan_is_the_latest_text_and_an_empty_one_is_none() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    fid = ledger.open("fp", day(0))
    assert ledger.builder.freeze(day(1)).findings[fid].plan is None  # type: ignore[index]
    texts = [("p1", "first plan", "first plan"), ("p2", "second", "second"), ("p3", "", None)]
    for number, (op, text, expected) in enumerate(texts, start=1):
        plan(ledger, fid, day(number), op, text)
        finding = ledger.builder.freeze(day(5)).findings[fid]  # type: ignore[index]
        assert finding.plan == expected
        assert finding.planned_at == day(1)


def test_the_frozen_state_carries_where_and_how_a_finding_was_opened() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    auto = ledger.open("fp", day(0), kind="terraform", file="main.tf", line=12)
    manual = ledger.open("m", day(0), op="m-op", manual=True)
    state = ledger.builder.freeze(day(1))
    found = state.findings[auto]  # type: ignore[index]
    assert (found.kind, found.file, found.line) == ("terraform", "main.tf", 12)
    assert found.manual is False
    by_hand = state.findings[manual]  # type: ignore[index]
    assert (by_hand.kind, by_hand.file, by_hand.line) == (None, None, None)
    assert by_hand.manual is True


def life_slots(builder: StateBuilder) -> dict[str, dict[str, object]]:
    # Lives have no ``==``: compare them slot by slot.
    return {
        fid: {slot: getattr(life, slot) for slot in type(life).__slots__}
        for fid, life in builder._lives.items()
    }


def test_a_copied_builder_carries_every_life_field() -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    waived = ledger.open("w", day(0), waiver={"id": "w1"})
    planned = ledger.open("p", day(0))
    ledger.add(RecordKind.ACKED, day(1), finding=planned, op="a", by="me", text="seen")
    plan(ledger, planned, day(2), "p1", "fix it")
    resolved = ledger.open("r", day(0))
    ledger.resolve(resolved, day(3))
    original = ledger.builder
    copy = original.copy()
    assert life_slots(copy) == life_slots(original)
    state = copy.freeze(day(9))
    assert state == original.freeze(day(9))
    assert state.findings[waived].waiver == "w1"  # type: ignore[index]
    assert state.findings[planned].plan == "fix it"  # type: ignore[index]
    assert state.findings[planned].planned_at == day(2)  # type: ignore[index]
    assert state.findings[resolved].resolved_at == day(3)  # type: ignore[index]


@pytest.mark.parametrize("length", [15, 16, 17, 64])
def test_a_second_opening_names_the_first_16_characters_of_the_fingerprint(length: int) -> None:
    fingerprint = "abcdef0123456789" * 4
    fingerprint = fingerprint[:length]
    ledger = Ledger()
    ledger.run("run-op", day(0))
    ledger.open(fingerprint, day(0))
    with pytest.raises(StateError) as caught:
        ledger.open(fingerprint, day(1), life=2)
    assert str(caught.value) == f"fingerprint {fingerprint[:16]} already has an open finding"


def opening(**changed: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "fingerprint": "fp",
        "life": 1,
        "finding": finding_id("fp", 1),
        "op": "run-op",
        "run_id": "r",
        "manual": False,
        "policy": "p",
        "title": "t",
        "controls": ["s:c"],
        "severity": "high",
        "kind": None,
        "file": None,
        "line": None,
        "clock": CLOCK.to_json(),
        "waiver": None,
        "by": None,
    }
    return data | changed


@pytest.mark.parametrize(
    ("changed", "reason"),
    [
        ({"severity": "urgent"}, "'urgent' is not a valid Severity"),
        ({"clock": {"clause": "c"}}, "malformed clock ('clauses')"),
        ({"clock": CLOCK.to_json() | {"clause": 5}}, "clause"),
        ({"controls": ["s:c", 5]}, "controls must be strings"),
        ({"controls": [None]}, "controls must be strings"),
    ],
)
def test_a_malformed_opening_is_refused_with_its_reason(
    changed: dict[str, Any], reason: str
) -> None:
    ledger = Ledger()
    ledger.run("run-op", day(0))
    with pytest.raises(StateError) as caught:
        ledger.add(RecordKind.OPENED, day(0), **opening(**changed))
    assert str(caught.value) == reason
    assert ledger.builder.live_finding("fp") is None


def test_each_run_is_summarised_with_the_record_that_holds_it() -> None:
    ledger = Ledger()
    ledger.run("op-1", day(0), run_id="first")
    ledger.open("fp", day(0), op="op-1")
    ledger.run(
        "op-2",
        day(1),
        run_id="second",
        environment="production",
        decision="non-compliant",
        commit="c0ffee",
        pipeline="https://ci.example/42",
    )
    runs = ledger.builder.freeze(day(2)).runs
    # ``seq`` names the record, so a run can be found again in the ledger file.
    assert [(r.seq, r.at, r.run_id) for r in runs] == [(1, day(0), "first"), (3, day(1), "second")]
    assert [(r.environment, r.decision, r.commit, r.pipeline) for r in runs] == [
        ("staging", "compliant", None, None),
        ("production", "non-compliant", "c0ffee", "https://ci.example/42"),
    ]
