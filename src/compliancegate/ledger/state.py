"""Findings derived from the records: the ledger stores what happened, never a state.

A finding is one life of one fingerprint: it opens at the first failing run (or by hand),
may be waived and unwaived, acknowledged, planned and noted, and ends when a run that
evaluated its policy no longer finds the violation. A later failure of the same fingerprint
is a new life, with a new id and a new clock. ``StateBuilder`` replays records in order and
rejects any that contradict what came before (a finding opened twice, a resolution of a
finding that is not open): ``ledger verify`` reports such a record as the first bad one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NewType

from compliancegate.ledger.chain import GENESIS
from compliancegate.ledger.clocks import Breach, Clock, breaches
from compliancegate.ledger.interface import LedgerError
from compliancegate.ledger.overflow import is_overflow, overflow_fingerprint, overflow_policy
from compliancegate.ledger.records import Record, RecordKind
from compliancegate.model import Severity

FindingId = NewType("FindingId", str)

ID_LENGTH = 16
"""Hex digits of a finding id (64 bits); commands accept any unique prefix."""


def finding_id(fingerprint: str, life: int) -> FindingId:
    """The id of life ``life`` (from 1) of ``fingerprint``: the same on every machine, so
    records re-derived after a concurrent writer got in first name the same finding."""
    digest = hashlib.sha256(f"finding\x00{fingerprint}\x00{life}".encode()).hexdigest()
    return FindingId(digest[:ID_LENGTH])


class FindingStatus(StrEnum):
    """Where a finding's life is."""

    OPEN = "open"
    WAIVED = "waived"
    RESOLVED = "resolved"


class StateError(ValueError):
    """A record contradicts the records before it (the caller names the record)."""


@dataclass(frozen=True)
class FindingEvent:
    """One entry of a finding's timeline."""

    seq: int
    """The record it comes from."""
    at: dt.datetime
    kind: RecordKind
    run_id: str | None
    by: str | None
    detail: str | None
    count: int | None = None
    """``finding.overflow``: the run's violations of the policy past the cap."""


@dataclass(frozen=True)
class LiveFinding:
    """What deciding a run's changes needs to know about a finding that is not resolved."""

    id: FindingId
    fingerprint: str
    life: int
    status: FindingStatus
    manual: bool
    policy: str | None
    title: str
    controls: tuple[str, ...]
    severity: Severity
    before_release: bool
    opened_at: dt.datetime


@dataclass(frozen=True)
class Finding:
    """One finding's life as derived at a moment ``now``."""

    id: FindingId
    fingerprint: str
    life: int
    """1 for the first life of the fingerprint, 2 after it was resolved and broke again..."""
    manual: bool
    """Opened by hand (``findings open``), not by a run."""
    policy: str | None
    title: str
    """The violation's message, or the manual finding's title."""
    controls: tuple[str, ...]
    severity: Severity
    kind: str | None
    """Artifact kind of the violation."""
    file: str | None
    line: int | None
    clock: Clock
    status: FindingStatus
    opened_at: dt.datetime
    opened_run: str | None
    resolved_at: dt.datetime | None
    resolved_run: str | None
    waiver: str | None
    """Id of the waiver that covers it now (status waived)."""
    acked_at: dt.datetime | None
    planned_at: dt.datetime | None
    """When the first remediation plan was recorded."""
    events: tuple[FindingEvent, ...]
    breaches: tuple[Breach, ...]
    """Deadlines missed as of ``now``."""
    plan: str | None = None
    """The text of the latest remediation plan (``findings plan --file``)."""

    @property
    def live(self) -> bool:
        """True until the finding is resolved."""
        return self.status is not FindingStatus.RESOLVED

    @property
    def breached(self) -> bool:
        """True when any deadline was missed."""
        return bool(self.breaches)

    @property
    def overflow(self) -> FindingEvent | None:
        """The latest ``finding.overflow`` event of a finding that follows a policy's
        violations past the cap (its ``count`` is how many there were); None otherwise."""
        for event in reversed(self.events):
            if event.kind is RecordKind.OVERFLOW:
                return event
        return None


@dataclass(frozen=True)
class RunSummary:
    """A run as the ledger recorded it."""

    seq: int
    at: dt.datetime
    run_id: str
    environment: str | None
    decision: str
    commit: str | None
    pipeline: str | None


@dataclass(frozen=True)
class LedgerState:
    """Everything derived from the ledger, as of ``now``."""

    now: dt.datetime
    records: int
    head: str
    """SHA-256 of the last record (the genesis value when empty)."""
    findings: Mapping[FindingId, Finding]
    """Every finding life, in the order they opened."""
    runs: tuple[RunSummary, ...]

    def live(self) -> tuple[Finding, ...]:
        """Findings not resolved."""
        return tuple(f for f in self.findings.values() if f.live)

    def lookup(self, prefix: str) -> Finding:
        """The finding whose id is ``prefix`` or starts with it; ``LedgerError`` when none or
        several do."""
        wanted = prefix.strip().lower()
        if not wanted:
            raise LedgerError("a finding id is required")
        exact = self.findings.get(FindingId(wanted))
        if exact is not None:
            return exact
        matches = [f for f in self.findings.values() if f.id.startswith(wanted)]
        if not matches:
            raise LedgerError(
                f"no finding has id {prefix!r}", hint="compliancegate findings list shows them"
            )
        if len(matches) > 1:
            ids = ", ".join(f.id for f in matches[:5])
            raise LedgerError(
                f"{prefix!r} is the start of {len(matches)} finding ids ({ids})",
                hint="give more of the id",
            )
        return matches[0]


class _Life:
    """The mutable record of one life while records are replayed (never leaves this module)."""

    __slots__ = (
        "acked_at",
        "clock",
        "events",
        "live",
        "plan",
        "planned_at",
        "releases",
        "resolved_at",
        "resolved_run",
        "spans",
        "waiver",
    )

    def __init__(self, live: LiveFinding, clock: Clock) -> None:
        self.live = live
        self.clock = clock
        self.events: list[FindingEvent] = []
        self.spans: list[list[dt.datetime | None]] = []
        self.releases: list[tuple[dt.datetime, str]] = []
        self.waiver: str | None = None
        self.acked_at: dt.datetime | None = None
        self.planned_at: dt.datetime | None = None
        self.plan: str | None = None
        self.resolved_at: dt.datetime | None = None
        self.resolved_run: str | None = None

    def copy(self) -> _Life:
        """An independent copy (events are immutable; the lists holding them are not)."""
        other = _Life(self.live, self.clock)
        other.events = list(self.events)
        other.spans = [list(span) for span in self.spans]
        other.releases = list(self.releases)
        other.waiver = self.waiver
        other.acked_at = self.acked_at
        other.planned_at = self.planned_at
        other.plan = self.plan
        other.resolved_at = self.resolved_at
        other.resolved_run = self.resolved_run
        return other


@dataclass(frozen=True)
class _Opening:
    run_id: str | None
    kind: str | None
    file: str | None
    line: int | None


class StateBuilder:
    """Replays records in ledger order; ``freeze`` gives the ``LedgerState``."""

    def __init__(self) -> None:
        self._lives: dict[FindingId, _Life] = {}
        self._openings: dict[FindingId, _Opening] = {}
        self._live: dict[str, FindingId] = {}
        self._counts: dict[str, int] = {}
        self._ops: set[str] = set()
        self._runs: list[RunSummary] = []
        self.records = 0
        self.head = GENESIS

    def copy(self) -> StateBuilder:
        """An independent builder at the same point: what replaying the same records again
        would give, for a fraction of the cost (the stores reuse one replay per head)."""
        other = StateBuilder()
        other._lives = {fid: life.copy() for fid, life in self._lives.items()}
        other._openings = dict(self._openings)
        other._live = dict(self._live)
        other._counts = dict(self._counts)
        other._ops = set(self._ops)
        other._runs = list(self._runs)
        other.records = self.records
        other.head = self.head
        return other

    # ------------------------------------------------------------------- reading

    def live_finding(self, fingerprint: str) -> LiveFinding | None:
        """The open or waived life of ``fingerprint``, if there is one."""
        fid = self._live.get(fingerprint)
        return None if fid is None else self._lives[fid].live

    def live_finding_by_id(self, fid: str) -> LiveFinding | None:
        """Finding ``fid`` when it exists and is not resolved."""
        life = self._lives.get(FindingId(fid))
        if life is None or life.live.status is FindingStatus.RESOLVED:
            return None
        return life.live

    def live_findings(self) -> Iterator[LiveFinding]:
        """Every finding not resolved, in the order they opened."""
        for fid in self._live.values():
            yield self._lives[fid].live

    def lives(self, fingerprint: str) -> int:
        """How many lives ``fingerprint`` has had."""
        return self._counts.get(fingerprint, 0)

    def status(self, fid: str) -> FindingStatus | None:
        """The status of finding ``fid``, or None when there is no such finding."""
        life = self._lives.get(FindingId(fid))
        return None if life is None else life.live.status

    def has_op(self, op: str) -> bool:
        """Whether an operation with this id is already recorded (pending operations are
        retried after a lost acknowledgement; they must not be recorded twice)."""
        return op in self._ops

    # ------------------------------------------------------------------- replay

    def apply_all(self, records: Iterable[Record]) -> None:
        """``apply`` each record in order."""
        for record in records:
            self.apply(record)

    def apply(self, record: Record) -> None:
        """Take one record into the state; ``StateError`` when it contradicts the past."""
        handler = _HANDLERS[record.kind]
        handler(self, record, record.data)
        self.records = record.seq
        self.head = record.hash

    def _new_op(self, op: Any) -> None:
        if op in self._ops:
            raise StateError(f"operation {op} is recorded twice")
        self._ops.add(op)

    def _life(self, data: Mapping[str, Any], *, live: bool = True) -> _Life:
        fid = data["finding"]
        life = self._lives.get(FindingId(fid))
        if life is None:
            raise StateError(f"finding {fid} was never opened")
        if live and life.live.status is FindingStatus.RESOLVED:
            raise StateError(f"finding {fid} is already resolved")
        return life

    def _event(self, life: _Life, record: Record, detail: str | None) -> None:
        data = record.data
        life.events.append(
            FindingEvent(
                record.seq, record.at, record.kind, data.get("run_id"), data.get("by"), detail
            )
        )

    def _on_run(self, record: Record, data: Mapping[str, Any]) -> None:
        self._new_op(data["op"])
        self._runs.append(
            RunSummary(
                record.seq,
                record.at,
                data["run_id"],
                data["environment"],
                data["decision"],
                data["commit"],
                data["pipeline"],
            )
        )

    def _on_opened(self, record: Record, data: Mapping[str, Any]) -> None:
        fingerprint = data["fingerprint"]
        if fingerprint in self._live:
            raise StateError(f"fingerprint {fingerprint[:16]} already has an open finding")
        life_number = data["life"]
        if life_number != self.lives(fingerprint) + 1:
            raise StateError(f"life {life_number} of a fingerprint with {self.lives(fingerprint)}")
        fid = finding_id(fingerprint, life_number)
        if data["finding"] != fid:
            raise StateError(f"finding id {data['finding']} is not {fid}")
        if data["manual"]:
            self._new_op(data["op"])
        elif data["op"] not in self._ops:
            raise StateError(f"finding opened by operation {data['op']}, which has no run")
        if is_overflow(fingerprint) and (
            data["manual"] or data["policy"] != overflow_policy(fingerprint)
        ):
            raise StateError(f"{fingerprint} is not the overflow finding of its policy")
        try:
            clock = Clock.from_json(data["clock"])
            severity = Severity(data["severity"])
        except ValueError as exc:
            raise StateError(str(exc)) from None
        controls = data["controls"]
        if not all(isinstance(c, str) for c in controls):
            raise StateError("controls must be strings")
        waiver = data["waiver"]
        status = FindingStatus.WAIVED if waiver else FindingStatus.OPEN
        live = LiveFinding(
            fid,
            fingerprint,
            life_number,
            status,
            data["manual"],
            data["policy"],
            data["title"],
            tuple(controls),
            severity,
            clock.before_release,
            record.at,
        )
        life = _Life(live, clock)
        if waiver:
            life.waiver = _waiver_id(waiver)
        else:
            life.spans.append([record.at, None])
        self._lives[fid] = life
        self._openings[fid] = _Opening(data["run_id"], data["kind"], data["file"], data["line"])
        self._live[fingerprint] = fid
        self._counts[fingerprint] = life_number
        self._event(life, record, f"waived by {life.waiver}" if waiver else None)

    def _set_status(self, life: _Life, status: FindingStatus) -> None:
        life.live = dataclasses.replace(life.live, status=status)

    def _on_resolved(self, record: Record, data: Mapping[str, Any]) -> None:
        life = self._life(data)
        if data["run_id"] is None:
            if not life.live.manual:
                raise StateError("only a finding opened by hand can be resolved by hand")
            op = data.get("op")
            if not isinstance(op, str) or not isinstance(data["by"], str):
                raise StateError("a resolution by hand names its operation and who made it")
            self._new_op(op)
        self._close_span(life, record.at)
        life.resolved_at = record.at
        life.resolved_run = data["run_id"]
        life.waiver = None
        self._set_status(life, FindingStatus.RESOLVED)
        del self._live[life.live.fingerprint]
        self._event(life, record, data["text"])

    def _close_span(self, life: _Life, at: dt.datetime) -> None:
        if life.spans and life.spans[-1][1] is None:
            life.spans[-1][1] = at

    def _on_waived(self, record: Record, data: Mapping[str, Any]) -> None:
        life = self._life(data)
        if life.live.status is not FindingStatus.OPEN:
            raise StateError(f"finding {data['finding']} is not open")
        self._close_span(life, record.at)
        life.waiver = _waiver_id(data["waiver"])
        self._set_status(life, FindingStatus.WAIVED)
        self._event(life, record, f"waived by {life.waiver}")

    def _on_unwaived(self, record: Record, data: Mapping[str, Any]) -> None:
        life = self._life(data)
        if life.live.status is not FindingStatus.WAIVED:
            raise StateError(f"finding {data['finding']} is not waived")
        life.spans.append([record.at, None])
        life.waiver = None
        self._set_status(life, FindingStatus.OPEN)
        self._event(life, record, "the waiver no longer covers it")

    def _on_breached(self, record: Record, data: Mapping[str, Any]) -> None:
        life = self._life(data)
        life.releases.append((record.at, data["run_id"]))
        self._event(life, record, data["reason"])

    def _on_acked(self, record: Record, data: Mapping[str, Any]) -> None:
        self._new_op(data["op"])
        life = self._life(data)
        if life.acked_at is None:
            life.acked_at = record.at
        self._event(life, record, data["text"])

    def _on_noted(self, record: Record, data: Mapping[str, Any]) -> None:
        self._new_op(data["op"])
        life = self._life(data, live=False)
        self._event(life, record, data["text"])

    def _on_planned(self, record: Record, data: Mapping[str, Any]) -> None:
        self._new_op(data["op"])
        life = self._life(data)
        if life.planned_at is None:
            life.planned_at = record.at
        life.plan = data["plan"] or None
        self._event(life, record, f"plan {data['file']} (sha256 {data['sha256'][:12]})")

    def _on_overflow(self, record: Record, data: Mapping[str, Any]) -> None:
        if data["op"] not in self._ops:
            raise StateError(f"overflow of operation {data['op']}, which has no run")
        life = self._life(data)
        if life.live.fingerprint != overflow_fingerprint(data["policy"]):
            raise StateError(
                f"finding {data['finding']} is not the overflow finding of {data['policy']}"
            )
        cap, count, waived = data["cap"], data["count"], data["waived"]
        if cap < 1 or count < 1 or not 0 <= waived <= count:
            raise StateError(f"cap {cap}, count {count}, waived {waived} are not counts")
        digest = data["fingerprints"]
        if len(digest) != 64 or digest.strip("0123456789abcdef"):
            raise StateError("fingerprints is not a SHA-256 hex digest")
        detail = f"{count} violation(s) past the cap of {cap}" + (
            f", {waived} waived" if waived else ""
        )
        life.events.append(
            FindingEvent(record.seq, record.at, record.kind, data["run_id"], None, detail, count)
        )

    def _on_recovered(self, record: Record, data: Mapping[str, Any]) -> None:
        # Bookkeeping of the store, not of any finding: nothing to derive.
        return None

    # ------------------------------------------------------------------- result

    def freeze(self, now: dt.datetime) -> LedgerState:
        """The derived state, deadlines evaluated at ``now``."""
        findings: dict[FindingId, Finding] = {}
        for fid, life in self._lives.items():
            live = life.live
            opening = self._openings[fid]
            spans = [(s, e) for s, e in life.spans if s is not None]
            findings[fid] = Finding(
                id=fid,
                fingerprint=live.fingerprint,
                life=live.life,
                manual=live.manual,
                policy=live.policy,
                title=live.title,
                controls=live.controls,
                severity=live.severity,
                kind=opening.kind,
                file=opening.file,
                line=opening.line,
                clock=life.clock,
                status=live.status,
                opened_at=live.opened_at,
                opened_run=opening.run_id,
                resolved_at=life.resolved_at,
                resolved_run=life.resolved_run,
                waiver=life.waiver,
                acked_at=life.acked_at,
                planned_at=life.planned_at,
                plan=life.plan,
                events=tuple(life.events),
                breaches=breaches(
                    life.clock, spans, life.planned_at, life.resolved_at, life.releases, now
                ),
            )
        return LedgerState(now, self.records, self.head, findings, tuple(self._runs))


def _waiver_id(waiver: Any) -> str:
    if isinstance(waiver, dict) and isinstance(waiver.get("id"), str):
        return str(waiver["id"])
    raise StateError("a waiver must be an object with an id")


_HANDLERS = {
    RecordKind.RUN: StateBuilder._on_run,
    RecordKind.OPENED: StateBuilder._on_opened,
    RecordKind.RESOLVED: StateBuilder._on_resolved,
    RecordKind.WAIVED: StateBuilder._on_waived,
    RecordKind.UNWAIVED: StateBuilder._on_unwaived,
    RecordKind.BREACHED: StateBuilder._on_breached,
    RecordKind.ACKED: StateBuilder._on_acked,
    RecordKind.NOTED: StateBuilder._on_noted,
    RecordKind.PLANNED: StateBuilder._on_planned,
    RecordKind.RECOVERED: StateBuilder._on_recovered,
    RecordKind.OVERFLOW: StateBuilder._on_overflow,
}
