"""The records an operation adds to a given state.

Kept apart from the stores so that both derive the same records, and so that an operation
can be planned again on a newer state: when another pipeline pushed first, the run's
findings are re-derived on top of what it pushed, never duplicated or lost.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from compliancegate.ledger.chain import ChainHead, Linked, link
from compliancegate.ledger.operations import (
    Action,
    FindingOp,
    ObservedViolation,
    OpenOp,
    Operation,
    RunOp,
)
from compliancegate.ledger.overflow import PolicyOverflow, digest, overflow_fingerprint
from compliancegate.ledger.records import Entry, Record, RecordKind
from compliancegate.ledger.state import FindingStatus, LiveFinding, StateBuilder, finding_id


class OperationRejected(ValueError):
    """The operation no longer applies to the state (e.g. an ack of a resolved finding)."""


def plan(op: Operation, state: StateBuilder) -> list[Entry]:
    """The records ``op`` adds to ``state`` (none when it is already recorded)."""
    if state.has_op(op.op):
        return []
    if isinstance(op, RunOp):
        entries = _plan_run(op, state)
    elif isinstance(op, OpenOp):
        entries = [_opened_manual(op, state)]
    else:
        entries = [_plan_action(op, state)]
    if op.clock_override is None:
        return entries
    # Every record of an operation whose clock was replaced says so: its "at" is not the
    # time it was written.
    override = dict(op.clock_override)
    return [Entry(e.kind, e.at, {**e.data, "clock_override": override}) for e in entries]


def _plan_run(op: RunOp, state: StateBuilder) -> list[Entry]:
    at = op.at
    changes: list[Entry] = []
    counts = {"opened": 0, "resolved": 0, "waived": 0, "unwaived": 0, "breached": 0}
    failing: dict[str, ObservedViolation] = {}
    for violation in op.violations:
        failing.setdefault(violation.fingerprint, violation)
    overflow = {o.policy: o for o in op.overflow}
    # A violation without a finding of its own, of a policy whose overflow finding is open,
    # joins that finding: it may be one of the violations already past the cap.
    joining: dict[str, list[ObservedViolation]] = {}
    status_after: dict[str, FindingStatus] = {}
    still: set[str] = set()
    for fingerprint, v in failing.items():
        live = state.live_finding(fingerprint)
        if live is None and state.live_finding(overflow_fingerprint(v.policy)) is not None:
            joining.setdefault(v.policy, []).append(v)
            continue
        waiver = None if v.waiver is None else (v.waiver, v.waiver_expires)
        if live is None:
            changes.append(Entry(RecordKind.OPENED, at, _opened(op, state, v, waiver)))
            counts["opened"] += 1
        else:
            still.add(fingerprint)
            changes += _waiver_change(op, live, waiver, counts, status_after)
    for live in state.live_findings():
        # A finding of its own whose violation is past the cap in this run is still failing.
        rest = overflow.get(live.policy or "")
        if rest is None or live.fingerprint in still or live.fingerprint in failing:
            continue
        if _contains(rest.fingerprints, live.fingerprint):
            still.add(live.fingerprint)
            waiver = rest.waivers.get(live.fingerprint)
            changes += _waiver_change(op, live, waiver, counts, status_after)
    for policy in sorted(set(joining) | set(overflow)):
        entries = _plan_overflow(
            op, state, policy, joining.get(policy, ()), overflow.get(policy), counts, status_after
        )
        if entries:
            changes += entries
            still.add(overflow_fingerprint(policy))
    evaluated = set(op.evaluated)
    resolved: set[str] = set()
    for live in state.live_findings():
        if live.fingerprint in still or live.manual or live.policy not in evaluated:
            continue
        data = {"finding": live.id, "run_id": op.run_id, "by": None, "text": None}
        changes.append(Entry(RecordKind.RESOLVED, at, data))
        resolved.add(live.fingerprint)
        counts["resolved"] += 1
    if op.production:
        # Findings this run opens are due before the *next* production release, so only
        # those open before it, and still open after it, were breached by it.
        for live in state.live_findings():
            status = status_after.get(live.fingerprint, live.status)
            if not live.before_release or live.fingerprint in resolved:
                continue
            if status is not FindingStatus.OPEN:
                continue
            reason = f"production release {op.run_id} ran while it was open"
            data = {"finding": live.id, "run_id": op.run_id, "reason": reason}
            changes.append(Entry(RecordKind.BREACHED, at, data))
            counts["breached"] += 1
    run = {
        "op": op.op,
        "run_id": op.run_id,
        "environment": op.environment,
        "commit": op.commit,
        "branch": op.branch,
        "pipeline": op.pipeline,
        "decision": op.decision,
        "fail_on": op.fail_on,
        "tool_version": op.tool_version,
        "policies": op.policies,
        "evaluated": len(op.evaluated),
        "violations": len(op.violations) if op.violation_count is None else op.violation_count,
        "changes": counts,
    }
    return [Entry(RecordKind.RUN, at, run), *changes]


WaiverRef = tuple[str, dt.date | None] | None
"""A waiver covering a violation in this run: (id, expiry); None when none does."""


def _waiver_json(waiver: WaiverRef) -> dict[str, Any] | None:
    return None if waiver is None else {"id": waiver[0], "expires": _date(waiver[1])}


def _opened(
    op: RunOp, state: StateBuilder, v: ObservedViolation, waiver: WaiverRef
) -> dict[str, Any]:
    life = state.lives(v.fingerprint) + 1
    return {
        "finding": finding_id(v.fingerprint, life),
        "fingerprint": v.fingerprint,
        "life": life,
        "op": op.op,
        "run_id": op.run_id,
        "manual": False,
        "policy": v.policy,
        "title": v.message,
        "controls": list(v.controls),
        "severity": v.severity.value,
        "kind": v.kind,
        "file": v.file,
        "line": v.line,
        "clock": v.clock.to_json(),
        "waiver": _waiver_json(waiver),
        "by": None,
    }


def _waiver_change(
    op: RunOp,
    live: LiveFinding,
    waiver: WaiverRef,
    counts: dict[str, int],
    status_after: dict[str, FindingStatus],
) -> list[Entry]:
    """The record of a live finding whose waiver came or went in this run, if any."""
    if waiver is not None and live.status is FindingStatus.OPEN:
        ref = {"finding": live.id, "run_id": op.run_id, "waiver": _waiver_json(waiver)}
        status_after[live.fingerprint] = FindingStatus.WAIVED
        counts["waived"] += 1
        return [Entry(RecordKind.WAIVED, op.at, ref)]
    if waiver is None and live.status is FindingStatus.WAIVED:
        status_after[live.fingerprint] = FindingStatus.OPEN
        counts["unwaived"] += 1
        return [Entry(RecordKind.UNWAIVED, op.at, {"finding": live.id, "run_id": op.run_id})]
    return []


def _contains(ordered: Sequence[str], item: str) -> bool:
    at = bisect.bisect_left(ordered, item)
    return at < len(ordered) and ordered[at] == item


def _plan_overflow(
    op: RunOp,
    state: StateBuilder,
    policy: str,
    joining: Sequence[ObservedViolation],
    rest: PolicyOverflow | None,
    counts: dict[str, int],
    status_after: dict[str, FindingStatus],
) -> list[Entry]:
    """The records of ``policy``'s violations past the cap in this run: the overflow
    finding's opening (or waiver change) and the run's ``finding.overflow`` summary; none
    when every violation of the policy has a finding of its own."""
    waivers: dict[str, tuple[str, dt.date | None]] = {
        v.fingerprint: (v.waiver, v.waiver_expires) for v in joining if v.waiver is not None
    }
    beyond: Sequence[str] = ()
    if rest is not None:
        # Few of the policy's findings have their own: filter by them, not by a lookup each.
        own = {f.fingerprint for f in state.live_findings() if f.policy == policy}
        beyond = rest.fingerprints
        if not own.isdisjoint(beyond):
            beyond = [fp for fp in beyond if fp not in own]
        waivers.update(rest.waivers)
    members = list(heapq.merge(sorted(v.fingerprint for v in joining), beyond))
    if not members:
        return []
    covering = [waivers[fp] for fp in members if fp in waivers]
    # Covered only while every member is: until the first of their waivers expires.
    waiver = (
        min(covering, key=lambda w: (w[1] is None, w[1] or dt.date.max, w[0]))
        if len(covering) == len(members)
        else None
    )
    fingerprint = overflow_fingerprint(policy)
    live = state.live_finding(fingerprint)
    entries: list[Entry] = []
    if live is None:
        # Nothing joins a finding that is not open, so the violations are past the cap.
        assert rest is not None
        life = state.lives(fingerprint) + 1
        fid = finding_id(fingerprint, life)
        data: dict[str, Any] = {
            "finding": fid,
            "fingerprint": fingerprint,
            "life": life,
            "op": op.op,
            "run_id": op.run_id,
            "manual": False,
            "policy": policy,
            "title": f"violations of {policy} past the ledger's cap of {op.cap} per run",
            "controls": list(rest.controls),
            "severity": rest.severity.value,
            "kind": rest.kind,
            "file": None,
            "line": None,
            "clock": rest.clock.to_json(),
            "waiver": _waiver_json(waiver),
            "by": None,
        }
        entries.append(Entry(RecordKind.OPENED, op.at, data))
        counts["opened"] += 1
    else:
        fid = live.id
        entries += _waiver_change(op, live, waiver, counts, status_after)
    summary = {
        "finding": fid,
        "op": op.op,
        "run_id": op.run_id,
        "policy": policy,
        "cap": op.cap,
        "count": len(members),
        "waived": len(covering),
        "fingerprints": digest(members),
    }
    entries.append(Entry(RecordKind.OVERFLOW, op.at, summary))
    return entries


def _date(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def _opened_manual(op: OpenOp, state: StateBuilder) -> Entry:
    if state.live_finding(op.fingerprint) is not None:
        raise OperationRejected(f"finding {op.fingerprint} is already open")
    life = state.lives(op.fingerprint) + 1
    data = {
        "finding": finding_id(op.fingerprint, life),
        "fingerprint": op.fingerprint,
        "life": life,
        "op": op.op,
        "run_id": None,
        "manual": True,
        "policy": None,
        "title": op.title,
        "controls": list(op.controls),
        "severity": op.severity.value,
        "kind": None,
        "file": None,
        "line": None,
        "clock": op.clock.to_json(),
        "waiver": None,
        "by": op.by,
    }
    return Entry(RecordKind.OPENED, op.at, data)


def _plan_action(op: FindingOp, state: StateBuilder) -> Entry:
    status = state.status(op.finding)
    if status is None:
        raise OperationRejected(f"finding {op.finding} does not exist")
    if op.action is not Action.NOTE and status is FindingStatus.RESOLVED:
        raise OperationRejected(f"finding {op.finding} is already resolved")
    base = {"finding": op.finding, "op": op.op, "by": op.by}
    if op.action is Action.ACK:
        return Entry(RecordKind.ACKED, op.at, {**base, "text": op.text})
    if op.action is Action.NOTE:
        return Entry(RecordKind.NOTED, op.at, {**base, "text": op.text or ""})
    if op.action is Action.PLAN:
        data = {**base, "file": op.file or "", "sha256": op.sha256 or "", "plan": op.text or ""}
        return Entry(RecordKind.PLANNED, op.at, data)
    live = state.live_finding_by_id(op.finding)
    if live is None or not live.manual:
        raise OperationRejected(
            f"finding {op.finding} was found by a policy: a run that passes resolves it"
        )
    return Entry(RecordKind.RESOLVED, op.at, {**base, "run_id": None, "text": op.text})


@dataclass(frozen=True)
class Batch:
    """Operations planned one after the other onto a head, ready to append."""

    linked: Linked
    stored: int
    """Operations whose records are in ``linked`` or were already in the ledger."""
    dropped: tuple[str, ...]
    """Operations that no longer apply, each with why."""


def build_batch(
    state: StateBuilder,
    head: ChainHead,
    first: Sequence[Entry],
    operations: Sequence[Operation],
) -> Batch:
    """Plan ``operations`` in order onto ``state`` (whose records end at ``head``), each
    seeing the records of the ones before; ``first`` (store bookkeeping) goes first.

    ``state`` is advanced past the new records.
    """
    records: list[Record] = []
    parts: list[bytes] = []
    current = head
    dropped = []
    stored = 0
    if first:
        linked = link(current, first)
        state.apply_all(linked.records)
        records.extend(linked.records)
        parts.append(linked.data)
        current = linked.head
    for op in operations:
        try:
            entries = plan(op, state)
        except OperationRejected as exc:
            dropped.append(f"operation {op.op[:12]}: {exc}")
            continue
        linked = link(current, entries)
        state.apply_all(linked.records)
        records.extend(linked.records)
        parts.append(linked.data)
        current = linked.head
        stored += 1
    return Batch(Linked(tuple(records), b"".join(parts), current), stored, tuple(dropped))
