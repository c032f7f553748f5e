"""Operations: what happened, before it becomes records.

A run of ``check`` or a manual action is captured as an operation with everything its records
need (times, clocks already computed from the register), so that the records can be derived
again from a newer state: when a concurrent writer got to the shared store first, or when a
run kept pending while the store was unreachable is stored by a later run. Operations are
JSON-serializable for the pending queue. Each has a random ``op`` id, recorded with its
records, so a retried operation is never recorded twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from compliancegate.ledger.clocks import Clock
from compliancegate.ledger.overflow import DEFAULT_CAP, PolicyOverflow
from compliancegate.ledger.records import format_time, parse_time
from compliancegate.model import PRODUCTION_ENVIRONMENT, ClockOverride, Severity


def new_op_id() -> str:
    """A fresh operation id."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ObservedViolation:
    """One failing item of a run, waived or not, with the clock it would open with."""

    fingerprint: str
    policy: str
    controls: tuple[str, ...]
    severity: Severity
    message: str
    kind: str
    file: str | None
    line: int | None
    waiver: str | None
    """Id of the waiver covering it in this run, or None."""
    waiver_expires: dt.date | None
    clock: Clock
    """The deadlines a finding opened by this run gets."""


@dataclass(frozen=True)
class RunOp:
    """One ``check``: what it decided and everything it found."""

    op: str
    at: dt.datetime
    run_id: str
    environment: str | None
    commit: str | None
    branch: str | None
    pipeline: str | None
    decision: str
    fail_on: str
    tool_version: str
    policies: int
    evaluated: tuple[str, ...]
    """Policies whose outcome was complete (pass, fail or waived): only these resolve."""
    violations: tuple[ObservedViolation, ...]
    """The violations recorded with their text: at most ``cap`` per policy."""
    clock_override: Mapping[str, str] | None = None
    """``COMPLIANCEGATE_NOW`` replaced the clock: ``{value, now, wall_clock}`` as recorded."""
    production: bool = False
    """Whether the run was a production release (its environment is the one the config
    declares production, whatever its name)."""
    overflow: tuple[PolicyOverflow, ...] = ()
    """Per policy, its failing violations past the cap (fingerprints only)."""
    cap: int = DEFAULT_CAP
    """Violations per policy the run records with their text."""
    violation_count: int | None = None
    """Failing violations of the run, all of them (None: ``len(violations)``, an operation
    queued before the cap existed)."""


@dataclass(frozen=True)
class OpenOp:
    """``findings open``: a finding from outside the gate (an audit, an incident)."""

    op: str
    at: dt.datetime
    by: str
    fingerprint: str
    """A fresh identity (``manual:`` and a random id): the finding has no violation."""
    title: str
    controls: tuple[str, ...]
    severity: Severity
    clock: Clock
    clock_override: Mapping[str, str] | None = None
    """As :attr:`RunOp.clock_override`."""


class Action(StrEnum):
    """What a ``FindingOp`` does."""

    ACK = "ack"
    NOTE = "note"
    PLAN = "plan"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class FindingOp:
    """``findings ack|note|plan|resolve``: something said about one finding."""

    op: str
    at: dt.datetime
    by: str
    action: Action
    finding: str
    text: str | None = None
    """The note, the acknowledgement's comment, the plan's text or the resolution's reason."""
    file: str | None = None
    """The plan's file name."""
    sha256: str | None = None
    """SHA-256 of the plan's bytes."""
    clock_override: Mapping[str, str] | None = None
    """As :attr:`RunOp.clock_override`."""


Operation = RunOp | OpenOp | FindingOp


# --------------------------------------------------------------------------- JSON


def _violation_json(v: ObservedViolation) -> dict[str, Any]:
    return {
        "fingerprint": v.fingerprint,
        "policy": v.policy,
        "controls": list(v.controls),
        "severity": v.severity.value,
        "message": v.message,
        "kind": v.kind,
        "file": v.file,
        "line": v.line,
        "waiver": v.waiver,
        "waiver_expires": None if v.waiver_expires is None else v.waiver_expires.isoformat(),
        "clock": v.clock.to_json(),
    }


def _violation(data: Mapping[str, Any]) -> ObservedViolation:
    expires = data["waiver_expires"]
    return ObservedViolation(
        fingerprint=data["fingerprint"],
        policy=data["policy"],
        controls=tuple(data["controls"]),
        severity=Severity(data["severity"]),
        message=data["message"],
        kind=data["kind"],
        file=data["file"],
        line=data["line"],
        waiver=data["waiver"],
        waiver_expires=None if expires is None else dt.date.fromisoformat(expires),
        clock=Clock.from_json(data["clock"]),
    )


def _overflow_json(o: PolicyOverflow) -> dict[str, Any]:
    return {
        "policy": o.policy,
        "fingerprints": list(o.fingerprints),
        "waivers": {
            fp: [waiver, None if expires is None else expires.isoformat()]
            for fp, (waiver, expires) in o.waivers.items()
        },
        "controls": list(o.controls),
        "severity": o.severity.value,
        "kind": o.kind,
        "clock": o.clock.to_json(),
    }


def _overflow(data: Mapping[str, Any]) -> PolicyOverflow:
    return PolicyOverflow(
        policy=data["policy"],
        fingerprints=tuple(data["fingerprints"]),
        waivers={
            fp: (waiver, None if expires is None else dt.date.fromisoformat(expires))
            for fp, (waiver, expires) in data["waivers"].items()
        },
        controls=tuple(data["controls"]),
        severity=Severity(data["severity"]),
        kind=data["kind"],
        clock=Clock.from_json(data["clock"]),
    )


def clock_override_json(override: ClockOverride) -> dict[str, str]:
    """How a run record says that ``COMPLIANCEGATE_NOW`` replaced its clock."""
    return {
        "value": override.value,
        "now": format_time(override.now),
        "wall_clock": format_time(override.wall_clock),
    }


def _clock_override(data: Any) -> dict[str, str] | None:
    if data is None:
        return None
    return {key: str(data[key]) for key in ("value", "now", "wall_clock")}


def to_json(op: Operation) -> dict[str, Any]:
    """The operation as a JSON object (for the pending queue)."""
    common = {"op": op.op, "at": format_time(op.at)}
    if isinstance(op, RunOp):
        return {
            "type": "run",
            **common,
            "run_id": op.run_id,
            "environment": op.environment,
            "commit": op.commit,
            "branch": op.branch,
            "pipeline": op.pipeline,
            "decision": op.decision,
            "fail_on": op.fail_on,
            "tool_version": op.tool_version,
            "policies": op.policies,
            "evaluated": list(op.evaluated),
            "violations": [_violation_json(v) for v in op.violations],
            "clock_override": None if op.clock_override is None else dict(op.clock_override),
            "production": op.production,
            "overflow": [_overflow_json(o) for o in op.overflow],
            "cap": op.cap,
            "violation_count": op.violation_count,
        }
    if isinstance(op, OpenOp):
        return {
            "type": "open",
            **common,
            "by": op.by,
            "fingerprint": op.fingerprint,
            "title": op.title,
            "controls": list(op.controls),
            "severity": op.severity.value,
            "clock": op.clock.to_json(),
            "clock_override": None if op.clock_override is None else dict(op.clock_override),
        }
    return {
        "type": "finding",
        **common,
        "by": op.by,
        "action": op.action.value,
        "finding": op.finding,
        "text": op.text,
        "file": op.file,
        "sha256": op.sha256,
        "clock_override": None if op.clock_override is None else dict(op.clock_override),
    }


def from_json(data: Mapping[str, Any]) -> Operation:
    """Read ``to_json``'s output back; ``ValueError`` when it is not an operation."""
    try:
        kind = data["type"]
        op, at = data["op"], parse_time(data["at"])
        if kind == "run":
            return RunOp(
                op=op,
                at=at,
                run_id=data["run_id"],
                environment=data["environment"],
                commit=data["commit"],
                branch=data["branch"],
                pipeline=data["pipeline"],
                decision=data["decision"],
                fail_on=data["fail_on"],
                tool_version=data["tool_version"],
                policies=data["policies"],
                evaluated=tuple(data["evaluated"]),
                violations=tuple(_violation(v) for v in data["violations"]),
                clock_override=_clock_override(data.get("clock_override")),
                # Queued by a version that knew only the name production.
                production=bool(
                    data.get("production", data["environment"] == PRODUCTION_ENVIRONMENT)
                ),
                # Queued by a version without the cap: every violation is in "violations".
                overflow=tuple(_overflow(o) for o in data.get("overflow", ())),
                cap=data.get("cap", DEFAULT_CAP),
                violation_count=data.get("violation_count"),
            )
        if kind == "open":
            return OpenOp(
                op=op,
                at=at,
                by=data["by"],
                fingerprint=data["fingerprint"],
                title=data["title"],
                controls=tuple(data["controls"]),
                severity=Severity(data["severity"]),
                clock=Clock.from_json(data["clock"]),
                clock_override=_clock_override(data.get("clock_override")),
            )
        if kind == "finding":
            return FindingOp(
                op=op,
                at=at,
                by=data["by"],
                action=Action(data["action"]),
                finding=data["finding"],
                text=data["text"],
                file=data["file"],
                sha256=data["sha256"],
                clock_override=_clock_override(data.get("clock_override")),
            )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed operation ({exc})") from None
    raise ValueError(f"unknown operation type {kind!r}")
