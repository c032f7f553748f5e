"""Frozen value types that cross module boundaries.

Loaders produce ``Register``, ``Policy`` and ``Waiver``; the artifact layer produces
``Artifact``; the engine produces ``PolicyResult`` and ``CheckReport``; reporters only read them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NewType

if TYPE_CHECKING:
    from compliancegate.engine.conditions import Condition
    from compliancegate.engine.paths import Path
    from compliancegate.engine.templates import Template
    from compliancegate.loading.inputs import InputFile

PolicyId = NewType("PolicyId", str)
ControlRef = NewType("ControlRef", str)
"""A control named as ``STANDARD:CONTROL``, e.g. ``nist-800-53-r5:SI-2``."""


class Severity(StrEnum):
    """Severity of a control or policy; ordered from most to least severe."""

    CRITICAL = "critical"
    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"

    @property
    def rank(self) -> int:
        """4 for critical down to 1 for low: larger is more severe."""
        return _SEVERITY_RANK[self]

    def at_least(self, threshold: Severity) -> bool:
        """True when this severity is ``threshold`` or more severe."""
        return self.rank >= threshold.rank


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MODERATE: 2,
    Severity.LOW: 1,
}


class Enforcement(StrEnum):
    """What a failing policy does: block the release, warn, or only record."""

    BLOCK = "block"
    WARN = "warn"
    AUDIT = "audit"


class Status(StrEnum):
    """Outcome of one policy in one run."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    WAIVED = "waived"


class Decision(StrEnum):
    """Outcome of the whole gate: exit 0, 1 and 2 respectively."""

    COMPLIANT = "compliant"
    BLOCKED = "blocked"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        """0 compliant, 1 blocked, 2 the gate could not decide (SPEC section 2)."""
        return {"compliant": 0, "blocked": 1, "error": 2}[self.value]


PRODUCTION_ENVIRONMENT = "production"
"""The production environment's name when the config declares none (``production: true``
marks another): its runs are releases, and break-fix findings are due before one."""


# --------------------------------------------------------------------------- register


@dataclass(frozen=True)
class Control:
    """One control of a standard, e.g. NIST SP 800-53 SI-2."""

    standard: str
    """Id of the standard the control belongs to."""
    id: str
    """The control's id within its standard, e.g. ``SI-2``."""
    title: str
    severity: Severity
    clause: str
    """Which SLA clock applies when a policy for this control breaks (``sla`` key)."""
    file: str | None = None
    line: int | None = None

    @property
    def ref(self) -> ControlRef:
        """The ``STANDARD:CONTROL`` name policies use."""
        return ControlRef(f"{self.standard}:{self.id}")


@dataclass(frozen=True)
class Standard:
    """A standard the system must satisfy, with its lifecycle dates."""

    id: str
    title: str
    version: str | None
    source: str | None
    effective: dt.date | None
    sunset: dt.date | None
    superseded_by: str | None
    controls: tuple[Control, ...]
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class RegisterMeta:
    """The ``metadata`` block of one register file."""

    name: str
    owner: str | None
    reviewed: dt.date | None
    review_every_days: int | None
    file: str


@dataclass(frozen=True)
class Register:
    """The merged register: every standard and control that applies, and the SLA clocks."""

    files: tuple[RegisterMeta, ...]
    standards: tuple[Standard, ...]
    sla: Mapping[str, Mapping[str, Any]]
    """Remediation clocks per clause type (defaults of SPEC section 3, overridden per file)."""
    controls: Mapping[ControlRef, Control] = field(default_factory=dict)
    hidden: tuple[str, ...] = ()
    """Hidden YAML files below the register folders, not read (reported as notices)."""

    def control(self, ref: str) -> Control | None:
        """The control named ``STANDARD:CONTROL``, or None."""
        return self.controls.get(ControlRef(ref))


# --------------------------------------------------------------------------- policies


@dataclass(frozen=True)
class InputSpec:
    """Which artifacts a policy reads.

    Exactly one of ``kind`` (a normalized kind or a syntax such as ``yaml``) and ``glob`` is
    set; ``format`` forces how the matched files are parsed.
    """

    kind: str | None = None
    glob: str | None = None
    format: str | None = None

    def describe(self) -> str:
        """Human words for messages: ``kind yaml`` or ``glob deploy/*.yaml``."""
        if self.glob is not None:
            return f"glob {self.glob!r}" + (f" (format {self.format})" if self.format else "")
        return f"input {self.kind!r}"


@dataclass(frozen=True)
class Policy:
    """One compiled policy: validated, its paths, regexes and schemas compiled once."""

    id: PolicyId
    title: str
    description: str
    controls: tuple[ControlRef, ...]
    severity: Severity
    enforcement: Enforcement
    environments: tuple[str, ...] | None
    """None means every environment."""
    input: InputSpec
    required: bool
    rule: Condition
    message: Template | None
    remediation: Template | None
    key: Path | None
    """Optional JMESPath giving an item's identity for fingerprints."""
    file: str
    line: int | None = None

    def applies_to(self, environment: str | None) -> bool:
        """Whether the policy is evaluated in ``environment`` (None: no environment given)."""
        if self.environments is None:
            return True
        return environment is not None and environment in self.environments


@dataclass(frozen=True)
class WaiverMatch:
    """One ``match`` entry: the JMESPath ``path`` on the item must equal ``value``."""

    expression: str
    path: Path
    value: Any


@dataclass(frozen=True)
class Waiver:
    """An approved, expiring exception for a policy's violations."""

    id: str
    policy: PolicyId
    match: tuple[WaiverMatch, ...]
    reason: str
    approved_by: str
    expires: dt.date
    environments: tuple[str, ...] | None
    file: str
    line: int | None = None
    missing_evidence: bool = False
    """True: the waiver covers only the policy's "missing evidence" failure (and nothing
    else); no other waiver ever covers it."""

    def expired(self, today: dt.date) -> bool:
        """A waiver is valid through its ``expires`` day and void the day after."""
        return today > self.expires


# --------------------------------------------------------------------------- artifacts


@dataclass(frozen=True)
class Artifact:
    """One parsed document a policy can read (a multi-document YAML file gives several)."""

    path: str
    """Path as shown to users: relative to the working directory where possible."""
    format: str
    """The detected or forced format, e.g. ``yaml`` or ``sarif``."""
    kind: str
    """The normalized kind (``raw`` for documents as parsed)."""
    syntax: str
    """The file's syntax: ``json``, ``yaml``, ``toml``, ``xml`` or ``text``."""
    document: Any
    index: int = 0
    """Position of the document in its file (YAML streams)."""
    line: int | None = None
    """Line where the document starts, where known."""
    line_of: Mapping[int, int] | None = field(default=None, compare=False, repr=False)
    """``id(container) -> line`` for the document's mappings and lists, where the format knows."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Location:
    """Where a violation is: the artifact's path and the line where known."""

    file: str | None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Violation:
    """One item that fails one policy."""

    fingerprint: str
    """Stable across runs for the same policy, artifact kind and item."""
    policy: PolicyId
    controls: tuple[ControlRef, ...]
    severity: Severity
    message: str
    remediation: str | None
    location: Location
    kind: str
    waiver: Waiver | None = None

    @property
    def waived(self) -> bool:
        """True when an unexpired waiver covers this violation."""
        return self.waiver is not None


@dataclass(frozen=True)
class PolicyResult:
    """The outcome of one policy in one run."""

    policy: Policy
    status: Status
    violations: tuple[Violation, ...] = ()
    error: str | None = None
    artifacts: tuple[str, ...] = ()
    """Paths of the artifacts the policy read."""
    blocking: bool = False
    """True when this result alone blocks the release."""

    @property
    def open_violations(self) -> tuple[Violation, ...]:
        """Violations no waiver covers."""
        return tuple(v for v in self.violations if not v.waived)


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not a policy result (expired waiver, gap)."""

    code: str
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class OpenBreakFix:
    """A break-fix finding the ledger holds open: it must be fixed before the next
    production release, so a production ``check`` that finds it still open is blocked."""

    finding: str
    """The finding's id in the ledger."""
    fingerprint: str
    """The fingerprint of the violation the finding follows."""
    policy: PolicyId | None
    """The policy that found it (None for a finding opened by hand)."""
    title: str
    """What broke: the violation's message, or the manual finding's title."""
    controls: tuple[ControlRef, ...]
    severity: Severity
    opened_at: dt.datetime
    tracked: frozenset[str] = frozenset()
    """For the finding that follows a policy's violations past the ledger's cap: the
    fingerprints of that policy's violations that have an open finding of their own (the
    others are the ones it follows)."""


@dataclass(frozen=True)
class Coverage:
    """How much of the register the evaluated policies implement."""

    controls: int
    implemented: int
    gaps: tuple[ControlRef, ...]


@dataclass(frozen=True)
class ClockOverride:
    """``COMPLIANCEGATE_NOW`` replaced the run's clock: every report and the ledger's run
    record say so, and production runs refuse it."""

    value: str
    """The variable's value, as given."""
    now: dt.datetime
    """The instant the run was evaluated and recorded at."""
    wall_clock: dt.datetime
    """What the system clock said when the override was read."""


@dataclass(frozen=True)
class CheckReport:
    """Everything one ``check`` run decided, for reporters and the ledger."""

    run_id: str
    started_at: dt.datetime
    environment: str | None
    fail_on: Severity
    decision: Decision
    results: tuple[PolicyResult, ...]
    notices: tuple[Notice, ...]
    coverage: Coverage
    paths: tuple[str, ...]
    tool_version: str
    ledger: str | None = None
    """Where the run is recorded, or None with ``--no-ledger``."""
    register: Register | None = field(default=None, compare=False, repr=False)
    """The register the run was evaluated against (the ledger takes the findings' clocks
    from it); None when no register was given."""
    clock_override: ClockOverride | None = None
    """Set when ``COMPLIANCEGATE_NOW`` replaced the clock of this run."""
    release: bool = False
    """Whether the run is a production release: ``environment`` is the declared production
    environment and was named (``--env`` or the config's ``environment:``)."""
    artifact_digests: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)
    """(display path, SHA-256) of each file the run read and evaluated, from the very bytes
    it judged."""
    inputs: tuple[InputFile, ...] = field(default=(), compare=False, repr=False)
    """The config, register, policy and waiver files as the run read them (for bundles)."""

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Every violation of every policy, waived or not."""
        return tuple(v for r in self.results for v in r.violations)

    def count(self, status: Status) -> int:
        """How many policies ended with ``status``."""
        return sum(1 for r in self.results if r.status is status)
