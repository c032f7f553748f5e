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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NewType

from compliancegate.ledger.chain import GENESIS
from compliancegate.ledger.clocks import Breach, Clock, breaches
from compliancegate.ledger.interface import LedgerError
from compliancegate.ledger.overflow import is_overflow, overflow_fingerprint, overflow_policy
from compliancegate.ledger.records import Record, RecordKind, format_time, parse_time
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


class StaleState(Exception):
    """The part of a cached state that is read only when needed could not be read back;
    the store that restored it replays the ledger from its first record instead."""


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
        self._cold: Callable[[], list[Any]] | None = None
        """Rows of the lives resolved and the runs recorded before a cached head, read on
        first need (``restore``); None once they are (or for a builder replayed in full)."""
        self.cold_base: object | None = None
        """What the builder was restored from (``restore``'s ``base``), until it thaws."""

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
        other._cold = self._cold
        other.cold_base = self.cold_base
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
        if life is None and self._thaw():
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
        if life is None and self._thaw():
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

    def freeze(self, now: dt.datetime, *, live_only: bool = False) -> LedgerState:
        """The derived state, deadlines evaluated at ``now``; with ``live_only``, only the
        findings not resolved and no runs (what a production release reads: it leaves the
        cold part of a restored state unread)."""
        if live_only:
            chosen = [(fid, self._lives[fid]) for fid in self._live.values()]
        else:
            self._thaw()
            chosen = list(self._lives.items())
        findings: dict[FindingId, Finding] = {}
        for fid, life in chosen:
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
        runs = () if live_only else tuple(self._runs)
        return LedgerState(now, self.records, self.head, findings, runs)

    # ------------------------------------------------------------------- caching

    def export(self) -> tuple[dict[str, Any], list[list[Any]]]:
        """The state as JSON values, for the derived-state cache (``derived``).

        Returns the *hot* part, read by every run (counts, operations, records and head,
        every finding not resolved), and the *cold* rows: the lives resolved and the runs
        recorded since ``cold_base`` (all of them when ``cold_base`` is None), read only by
        what needs them.
        """
        # A run's records share one time, and its findings one clock: format each once.
        times: dict[dt.datetime, str] = {}

        def when(moment: dt.datetime | None) -> str | None:
            if moment is None:
                return None
            text = times.get(moment)
            if text is None:
                text = times[moment] = format_time(moment)
            return text

        clocks: dict[Clock, dict[str, Any]] = {}
        hot = {
            "records": self.records,
            "head": self.head,
            **_strings("ops", self._ops),
            **_strings("once", [fp for fp, n in self._counts.items() if n == 1]),
            "counts": {fp: n for fp, n in self._counts.items() if n != 1},
            "live": [self._life_row(fid, when, clocks) for fid in self._live.values()],
        }
        cold: list[list[Any]] = [
            self._life_row(fid, when, clocks)
            for fid, life in self._lives.items()
            if life.live.status is FindingStatus.RESOLVED
        ]
        cold += [_run_row(run, when) for run in self._runs]
        return hot, cold

    @classmethod
    def restore(
        cls, hot: Mapping[str, Any], cold: Callable[[], list[Any]], base: object
    ) -> StateBuilder:
        """A builder from ``export``'s hot part; ``cold`` gives every cold row when first
        needed (or raises ``StaleState``), ``base`` names where they are kept. Raises
        ``ValueError``, ``KeyError``, ``TypeError`` or ``IndexError`` on malformed input."""
        builder = cls()
        records, head = hot["records"], hot["head"]
        if not isinstance(records, int) or isinstance(records, bool) or records < 1:
            raise ValueError("records must be a positive count")
        if not isinstance(head, str) or len(head) != 64:
            raise ValueError("head must be a SHA-256")
        counts = hot["counts"]
        if not isinstance(counts, dict):
            raise ValueError("counts must be an object")
        builder._ops = set(_read_strings(hot, "ops"))
        builder._counts = dict.fromkeys(_read_strings(hot, "once"), 1)
        builder._counts.update(counts)
        clocks: dict[str, Clock] = {}
        for row in hot["live"]:
            fid, life, opening = _life_from_row(row, clocks)
            if life.live.status is FindingStatus.RESOLVED or life.live.fingerprint in builder._live:
                raise ValueError("the hot part lists a resolved or duplicate life")
            builder._lives[fid] = life
            builder._openings[fid] = opening
            builder._live[life.live.fingerprint] = fid
        builder.records = records
        builder.head = head
        builder._cold = cold
        builder.cold_base = base
        return builder

    def _thaw(self) -> bool:
        """Read the cold part in, once; True when there was one. ``StaleState`` when it
        cannot be read back."""
        if self._cold is None:
            return False
        try:
            rows = self._cold()
            lives: list[tuple[int, FindingId, _Life, _Opening]] = []
            runs: list[RunSummary] = []
            clocks: dict[str, Clock] = {}
            for row in rows:
                if row[0] == "R":
                    runs.append(_run_from_row(row))
                    continue
                fid, life, opening = _life_from_row(row, clocks)
                if fid in self._lives or life.live.status is not FindingStatus.RESOLVED:
                    raise ValueError(f"life {fid} is listed twice, or not resolved")
                lives.append((life.events[0].seq, fid, life, opening))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise StaleState(f"the cached state's cold part is malformed ({exc})") from None
        for fid, life in self._lives.items():
            lives.append((life.events[0].seq, fid, life, self._openings[fid]))
        lives.sort(key=lambda item: item[0])
        self._lives = {fid: life for _, fid, life, _ in lives}
        self._openings = {fid: opening for _, fid, _, opening in lives}
        self._runs = runs + self._runs
        self._cold = None
        self.cold_base = None
        return True

    def _life_row(
        self,
        fid: FindingId,
        when: Callable[[dt.datetime | None], str | None],
        clocks: dict[Clock, dict[str, Any]],
    ) -> list[Any]:
        life = self._lives[fid]
        live, opening, clock = life.live, self._openings[fid], life.clock
        clock_json = clocks.get(clock)
        if clock_json is None:
            clock_json = clocks[clock] = clock.to_json()
        return [
            "L",
            fid,
            live.fingerprint,
            live.life,
            live.status.value,
            live.manual,
            live.policy,
            live.title,
            list(live.controls),
            live.severity.value,
            when(live.opened_at),
            clock_json,
            [
                [e.seq, when(e.at), e.kind.value, e.run_id, e.by, e.detail, e.count]
                for e in life.events
            ],
            [[when(start), when(end)] for start, end in life.spans],
            [[when(at), run] for at, run in life.releases],
            life.waiver,
            when(life.acked_at),
            when(life.planned_at),
            life.plan,
            when(life.resolved_at),
            life.resolved_run,
            [opening.run_id, opening.kind, opening.file, opening.line],
        ]


def _strings(name: str, values: Iterable[Any]) -> dict[str, Any]:
    """``values`` as one newline-joined string (a long list of strings parses several times
    faster so), or as a list when one of them is not a string without a newline."""
    listed = list(values)
    try:
        joined = "\n".join(listed)
    except TypeError:
        joined = None
    if joined is not None and joined.count("\n") == max(len(listed) - 1, 0):
        return {name: joined, f"{name}_n": len(listed)}
    return {name: listed, f"{name}_n": len(listed)}


def _read_strings(hot: Mapping[str, Any], name: str) -> list[Any]:
    value, count = hot[name], hot[f"{name}_n"]
    if isinstance(value, str):
        value = value.split("\n") if count else []
    if not isinstance(value, list) or len(value) != count:
        raise ValueError(f"{name} is not a list of {count}")
    return value


def _parsed(text: Any) -> dt.datetime | None:
    return None if text is None else parse_time(text)


def _life_from_row(row: list[Any], clocks: dict[str, Clock]) -> tuple[FindingId, _Life, _Opening]:
    """A life from ``_life_row``'s row; ``clocks`` memoizes the clocks (a run's findings
    share theirs)."""
    (
        tag,
        fid,
        fingerprint,
        number,
        status,
        manual,
        policy,
        title,
        controls,
        severity,
        opened_at,
        clock_json,
        events,
        spans,
        releases,
        waiver,
        acked_at,
        planned_at,
        plan,
        resolved_at,
        resolved_run,
        opening,
    ) = row
    if tag != "L" or not isinstance(fid, str) or not isinstance(fingerprint, str):
        raise ValueError("not a life")
    clock_key = repr(clock_json)
    clock = clocks.get(clock_key)
    if clock is None:
        clock = clocks[clock_key] = Clock.from_json(clock_json)
    live = LiveFinding(
        FindingId(fid),
        fingerprint,
        number,
        _STATUSES[status],
        manual,
        policy,
        title,
        tuple(controls),
        _SEVERITIES[severity],
        clock.before_release,
        parse_time(opened_at),
    )
    life = _Life(live, clock)
    life.events = [
        FindingEvent(seq, parse_time(at), _KINDS[kind], run_id, by, detail, count)
        for seq, at, kind, run_id, by, detail, count in events
    ]
    if not life.events or not isinstance(life.events[0].seq, int):
        raise ValueError("a life starts with its opening")
    life.spans = [[_parsed(start), _parsed(end)] for start, end in spans]
    life.releases = [(parse_time(at), run) for at, run in releases]
    life.waiver = waiver
    life.acked_at = _parsed(acked_at)
    life.planned_at = _parsed(planned_at)
    life.plan = plan
    life.resolved_at = _parsed(resolved_at)
    life.resolved_run = resolved_run
    run_id, kind, file, line = opening
    return FindingId(fid), life, _Opening(run_id, kind, file, line)


# Enum lookups by value, a dictionary access rather than an Enum call per row.
_STATUSES = {s.value: s for s in FindingStatus}
_SEVERITIES = {s.value: s for s in Severity}
_KINDS = {k.value: k for k in RecordKind}


def _run_row(run: RunSummary, when: Callable[[dt.datetime | None], str | None]) -> list[Any]:
    return [
        "R",
        run.seq,
        when(run.at),
        run.run_id,
        run.environment,
        run.decision,
        run.commit,
        run.pipeline,
    ]


def _run_from_row(row: list[Any]) -> RunSummary:
    _, seq, at, run_id, environment, decision, commit, pipeline = row
    if not isinstance(seq, int):
        raise ValueError("a run's seq must be an integer")
    return RunSummary(seq, parse_time(at), run_id, environment, decision, commit, pipeline)


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
