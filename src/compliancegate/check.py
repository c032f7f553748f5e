"""The library behind ``compliancegate check``: load, evaluate, decide. Returns a
``CheckReport``; never prints, never exits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from compliancegate import __version__
from compliancegate.errors import CompliancegateError, LoadError, UsageError
from compliancegate.model import (
    PRODUCTION_ENVIRONMENT,
    CheckReport,
    ClockOverride,
    Decision,
    InputSpec,
    Notice,
    OpenBreakFix,
    Policy,
    PolicyResult,
    Register,
    Severity,
    Waiver,
)

if TYPE_CHECKING:
    from compliancegate.loading.config import Config
    from compliancegate.loading.inputs import InputFile

NOW_VARIABLE = "COMPLIANCEGATE_NOW"
"""An ISO 8601 instant that replaces the clock (reproducible runs and tests); reported in
every output and ledger record of the run, refused in production."""


def wall_clock() -> dt.datetime:
    """The system clock in UTC: the one place a run reads it (tests pin it here)."""
    return dt.datetime.now(dt.UTC)


def clock_override() -> ClockOverride | None:
    """``COMPLIANCEGATE_NOW`` when it is set (``UsageError`` when it is not a time)."""
    from compliancegate.engine.durations import parse_instant

    value = os.environ.get(NOW_VARIABLE)
    if not value:
        return None
    instant = parse_instant(value)
    if instant is None:
        raise UsageError(f"{NOW_VARIABLE}={value!r} is not an ISO 8601 date or datetime")
    return ClockOverride(value, instant, wall_clock())


def current_time() -> tuple[dt.datetime, bool]:
    """The run's clock, and whether it was overridden by ``COMPLIANCEGATE_NOW``."""
    override = clock_override()
    if override is not None:
        return override.now, True
    return wall_clock(), False


def refuse_clock_override(override: ClockOverride | None, release: bool) -> None:
    """A production release is judged at the real time: ``UsageError`` (exit 2) when the
    clock is overridden in a production release."""
    if override is not None and release:
        raise UsageError(
            f"{NOW_VARIABLE}={override.value} replaces the clock, which a production run "
            f"refuses: expired waivers would apply again and the ledger would be backdated",
            hint=f"unset {NOW_VARIABLE} (it is for tests and reproducing past runs "
            "outside production)",
        )


def override_notice(override: ClockOverride) -> Notice:
    """The notice every report of a run with an overridden clock carries."""
    from compliancegate.reporters._common import iso_utc

    return Notice(
        "clock-override",
        f"{NOW_VARIABLE}={override.value} replaced the clock: this run was evaluated and "
        f"recorded as of {iso_utc(override.now)} while the system clock said "
        f"{iso_utc(override.wall_clock)}; waiver expiry, evidence age and deadlines were "
        "judged at the replaced time",
    )


@dataclass(frozen=True)
class CheckOptions:
    """What ``check`` was asked to do (the CLI fills it from flags and the config)."""

    paths: tuple[Path, ...] = ()
    config: Path | None = None
    policies: tuple[Path, ...] = ()
    registers: tuple[Path, ...] = ()
    waivers: Path | None = None
    environment: str | None = None
    fail_on: Severity | None = None
    ledger: str | None = None
    no_ledger: bool = False
    run_id: str | None = None
    now: dt.datetime | None = None
    git_base: str | None = None
    """``--git-base``: the ref ``changed_files`` of ``input: git`` is computed against."""
    outputs: tuple[Path, ...] = ()
    """The report files this run writes: never read as its artifacts."""
    clock_override: ClockOverride | None = None
    """Set when ``now`` came from ``COMPLIANCEGATE_NOW`` (see :func:`clock_override`)."""


@dataclass(frozen=True)
class Resolved:
    """The settings of a run once flags, config and environment overrides are combined."""

    paths: tuple[Path, ...]
    policies: tuple[Path, ...]
    registers: tuple[Path, ...]
    waivers: Path | None
    environment: str
    fail_on: Severity
    ledger: str | None
    excludes: tuple[str, ...]
    artifacts: tuple[tuple[str, str], ...]
    max_artifact_bytes: int | None
    reports: tuple[tuple[str, Path], ...]
    """(format, file) reports the config asks for on every run."""
    git_base: str | None = None
    """The ref git's ``changed_files`` compare against; None: the previous tag."""
    production: bool = False
    """``environment`` is the declared production environment."""
    release: bool = False
    """A production release: the production environment was named (``--env`` or the
    config's ``environment:``). Only a release applies the break-fix rule."""
    declared: tuple[str, ...] = (PRODUCTION_ENVIRONMENT,)
    """The environment names the config declares (policies are checked against them)."""
    break_fix_enforced: bool = True
    """False when the config turns the break-fix rule off (every report then says so)."""
    ledger_cap: int | None = None
    """Violations of one policy a run records in the ledger with their text (the config's
    ``limits: {ledger_findings_per_policy: N}``; None: ``ledger.overflow.DEFAULT_CAP``)."""
    config: str | None = None
    """The config file, as shown to users (None without one)."""
    inputs: tuple[InputFile, ...] = field(default=(), compare=False, repr=False)
    """The config file's bytes as read (see ``loading.inputs``)."""


def environment_of(flag: str | None, config: Config) -> str:
    """The environment the run is evaluated for: ``--env``, else the config's
    ``environment:``, else the production environment. Refuses a name the config does not
    declare.

    With neither, the run is evaluated as production (its policies and its settings): a
    gate that silently skipped the policies restricted to production whenever the flag is
    forgotten would fail open. It is not a production release, though (see ``resolve``).
    """
    declared = config.declared
    if flag == "":
        # An unset CI variable (--env "$DEPLOY_ENV") must not quietly become "no --env".
        raise UsageError(
            "--env is empty", hint=f"name a declared environment: {', '.join(declared)}"
        )
    environment = flag or config.environment or config.production
    if environment not in declared:
        near = [d for d in declared if d.casefold() == environment.casefold()]
        from compliancegate.loading.documents import display

        where = f"in {display(config.file)}" if config.file is not None else "without a config"
        raise UsageError(
            f"environment {environment!r} is not declared (declared {where}: "
            f"{', '.join(declared)})",
            hint=(
                f"did you mean --env {near[0]}? Names are exact"
                if near
                else "declare it under environments: in compliancegate.yaml, or fix --env"
            ),
        )
    return environment


def resolve(options: CheckOptions) -> Resolved:
    """Flags override the environment's settings, which override the config's."""
    from compliancegate.artifacts.selection import DEFAULT_EXCLUDES
    from compliancegate.loading.config import find_config
    from compliancegate.loading.documents import display
    from compliancegate.loading.inputs import capture_inputs

    with capture_inputs("config") as read:
        config = find_config(options.config)
    environment = environment_of(options.environment, config)
    env = config.environments.get(environment)

    def pick(
        flag: tuple[Path, ...],
        env_value: tuple[Path, ...] | None,
        config_value: tuple[Path, ...],
        default: str,
    ) -> tuple[Path, ...]:
        if flag:
            return flag
        if env_value is not None:
            return env_value
        if config_value:
            return config_value
        fallback = Path(default)
        return (fallback,) if fallback.exists() else ()

    policies = pick(options.policies, env.policies if env else None, config.policies, "policies")
    if not policies:
        raise UsageError(
            "no policies to evaluate",
            hint="run `compliancegate init` for a config using the built-in starter policies, "
            "or pass --policies DIR (or builtin:starter)",
        )
    if options.paths:
        paths = options.paths
    elif env is not None and env.paths is not None:
        paths = env.paths
    else:
        paths = config.paths or (Path("."),)
    waivers = options.waivers or (env.waivers if env and env.waivers else None) or config.waivers
    fail_on = options.fail_on or (env.fail_on if env else None) or config.fail_on or Severity.LOW
    from compliancegate.ledger.location import DEFAULT_LOCATION, check_location

    ledger = None
    if not options.no_ledger:
        ledger = options.ledger if options.ledger is not None else config.ledger
        ledger = DEFAULT_LOCATION if ledger is None else ledger
    if ledger is not None:
        # A bad location (an unknown store, a folder the gated repository controls) is
        # refused before the run, not found out after it.
        check_location(ledger)

    # Only a run that names production is a release: one that merely defaulted to it
    # must not claim in the ledger that a release ran (nor block on break-fix findings).
    release = environment == config.production and bool(options.environment or config.environment)
    refuse_clock_override(options.clock_override, release)
    return Resolved(
        paths=paths,
        policies=policies,
        registers=pick(
            options.registers, env.registers if env else None, config.registers, "registers"
        ),
        waivers=waivers,
        environment=environment,
        fail_on=fail_on,
        ledger=ledger,
        excludes=DEFAULT_EXCLUDES + config.exclude,
        artifacts=config.artifacts,
        max_artifact_bytes=config.max_artifact_bytes,
        reports=config.reports,
        git_base=options.git_base or config.git_base,
        production=environment == config.production,
        release=release,
        declared=config.declared,
        break_fix_enforced=config.break_fix_enforced,
        ledger_cap=config.ledger_cap,
        config=None if config.file is None else display(config.file),
        inputs=tuple(read),
    )


class BreakFixSource(Protocol):
    """Where a production run learns which break-fix findings are open (the ledger)."""

    def open_break_fix(self) -> Sequence[OpenBreakFix]:
        """The open break-fix findings; ``CompliancegateError`` when they cannot be known
        (an unreadable or corrupted ledger, a remote this runner has never read)."""
        ...


def hidden_notices(policies: Sequence[Path], register: Register | None) -> list[Notice]:
    """Hidden policy and register files are not read, and each one is said so."""
    from compliancegate.loading.documents import display
    from compliancegate.loading.files import hidden_message

    hidden = [(p, "policy") for p in policies]
    hidden += [(Path(name), "register") for name in (register.hidden if register else ())]
    return [
        Notice("hidden-file-skipped", hidden_message(path, what), display(path))
        for path, what in hidden
    ]


def environment_notices(
    policies: Sequence[Policy], waivers: Sequence[Waiver], declared: Sequence[str]
) -> list[Notice]:
    """Policies and waivers that name environments the config does not declare.

    A policy restricted only to undeclared names could never apply (a misspelled
    ``environments: [prodution]`` would silently switch it off): that is a load error.
    One that also names a declared environment, and a waiver (which then simply never
    applies, so nothing is let through), get a notice.
    """
    notices = []
    for policy in policies:
        unknown = [e for e in policy.environments or () if e not in declared]
        if not unknown:
            continue
        if len(unknown) == len(policy.environments or ()):
            raise LoadError(
                f"environments: {', '.join(unknown)} not declared, so the policy could never "
                f"apply (declared: {', '.join(declared)})",
                file=policy.file,
                line=policy.line,
                subject=policy.id,
                hint="fix the name, or declare the environment under environments: in the config",
            )
        notices.append(
            Notice(
                "undeclared-environment",
                f"policy {policy.id} names environment(s) {', '.join(unknown)}, which are not "
                f"declared (declared: {', '.join(declared)})",
                policy.file,
                policy.line,
            )
        )
    for waiver in waivers:
        unknown = [e for e in waiver.environments or () if e not in declared]
        if unknown:
            notices.append(
                Notice(
                    "undeclared-environment",
                    f"waiver {waiver.id} names environment(s) {', '.join(unknown)}, which are "
                    f"not declared (declared: {', '.join(declared)}); it never applies there",
                    waiver.file,
                    waiver.line,
                )
            )
    return notices


BREAK_FIX_OFF_HINT = (
    "give the run a readable ledger (--ledger LOCATION), or, to release without the "
    "break-fix rule, set break_fix: {enforce: false} in the config"
)


def _break_fix(
    settings: Resolved,
    register: Register | None,
    source: BreakFixSource | None,
    results: list[PolicyResult],
    decision: Decision,
) -> tuple[Decision, list[Notice]]:
    """Apply the break-fix rule to a production release: append its result to
    ``results`` and return the new decision and the notices."""
    from compliancegate.ledger.breakfix import (
        has_break_fix_clause,
        quiet_notice,
        release_block,
        sort_open,
        unreadable_result,
    )

    clause = has_break_fix_clause(register)
    if not settings.break_fix_enforced:
        if not clause:
            return decision, []
        where = f" in {settings.config}" if settings.config else ""
        text = (
            f"break-fix enforcement is off (break_fix: {{enforce: false}}{where}): open "
            "break-fix findings were not checked and did not block this production release"
        )
        return decision, [Notice("break-fix-off", text, settings.config)]
    ledger = settings.ledger or "ledger"
    try:
        if source is None:
            raise UsageError("this production release reads no ledger (--no-ledger)")
        found = source.open_break_fix()
    except CompliancegateError as exc:
        detail = exc.message
        if exc.file and exc.file not in detail:
            detail = f"{exc.file}: {detail}"
        if not clause:
            text = f"open break-fix findings could not be read, so none blocked: {detail}"
            return decision, [Notice("ledger-unavailable", text, exc.file)]
        reason = f"open break-fix findings could not be read: {detail}"
        results.append(unreadable_result(reason, ledger, BREAK_FIX_OFF_HINT))
        return Decision.ERROR, []
    blocking, quiet = sort_open(found, results, settings.fail_on)
    notices = [quiet_notice(quiet)] if quiet else []
    block = release_block(blocking, ledger)
    if block is not None:
        results.append(block)
        if decision is Decision.COMPLIANT:
            decision = Decision.BLOCKED
    return decision, notices


def register_notices(register: Register, today: dt.date) -> list[Notice]:
    """A register past its review date is itself an overdue obligation."""
    notices = []
    for meta in register.files:
        if meta.reviewed and meta.review_every_days:
            due = meta.reviewed + dt.timedelta(days=meta.review_every_days)
            if today > due:
                notices.append(
                    Notice(
                        "register-stale",
                        f"register {meta.name} was due for review on {due.isoformat()} "
                        f"(reviewed {meta.reviewed.isoformat()})",
                        meta.file,
                    )
                )
    return notices


def _reads_raw(spec: InputSpec) -> bool:
    """Whether a policy's input may read a file's syntax-level document (a glob may name a
    normalized report with ``format: json``)."""
    from compliancegate.artifacts.registry import SYNTAXES

    return spec.glob is not None or spec.kind in SYNTAXES


def run_check(
    options: CheckOptions,
    settings: Resolved | None = None,
    break_fix: BreakFixSource | None = None,
) -> CheckReport:
    """Load everything, evaluate every policy, apply waivers and decide.

    In a production release, ``break_fix`` names the open break-fix findings: those this run
    does not fix block the release (one extra blocking result, ``compliancegate:break-fix``).

    Raises ``CompliancegateError`` (exit 2) before evaluating anything when a register,
    policy, waiver or config file is invalid; artifact problems end the policies that need
    them in ``error`` instead, so the rest of the run's results are kept.
    """
    from compliancegate.artifacts.selection import ArtifactStore
    from compliancegate.artifacts.source import DEFAULT_MAX_BYTES
    from compliancegate.engine.conditions import EvalContext
    from compliancegate.engine.decision import counts_as_evaluated, coverage, decide
    from compliancegate.engine.evaluation import evaluate_policy
    from compliancegate.engine.waivers import apply_waivers
    from compliancegate.loading.documents import display
    from compliancegate.loading.inputs import capture_inputs
    from compliancegate.loading.policies import load_policies
    from compliancegate.loading.register import load_register
    from compliancegate.loading.waivers import load_waivers

    if options.now is None:
        options = dataclasses.replace(options, clock_override=clock_override())
        if options.clock_override is not None:
            options = dataclasses.replace(options, now=options.clock_override.now)
    started = options.now or wall_clock()
    settings = settings or resolve(options)
    refuse_clock_override(options.clock_override, settings.release)
    with capture_inputs("register") as register_files:
        register = load_register(settings.registers) if settings.registers else None
    with capture_inputs("policies") as policy_files:
        policy_set = load_policies(settings.policies, register)
    if not policy_set.policies:
        raise UsageError(
            "no policies found under " + ", ".join(display(p) for p in settings.policies),
            hint="policy files are *.yaml documents with kind: Policy",
        )
    with capture_inputs("waivers") as waiver_files:
        waivers: tuple[Waiver, ...] = load_waivers(settings.waivers) if settings.waivers else ()
    notices: list[Notice] = []
    if options.clock_override is not None:
        notices.append(override_notice(options.clock_override))
    notices.extend(hidden_notices(policy_set.hidden, register))
    notices.extend(environment_notices(policy_set.policies, waivers, settings.declared))
    if register is None:
        notices.append(Notice("no-register", "no register given: policy controls were not checked"))
    else:
        notices.extend(register_notices(register, started.date()))

    store = ArtifactStore(
        settings.paths,
        forced=settings.artifacts,
        excludes=settings.excludes,
        max_bytes=settings.max_artifact_bytes or DEFAULT_MAX_BYTES,
        git_base=settings.git_base,
        now=started,
        outputs=options.outputs,
        keep_trees=any(_reads_raw(p.input) for p in policy_set.policies),
    )
    ctx = EvalContext(now=started)
    roots = tuple(display(p) for p in settings.paths)
    results = []
    items: dict[str, object] = {}
    for policy in policy_set.policies:
        result, found = evaluate_policy(policy, store, ctx, settings.environment, roots)
        results.append(result)
        items.update(found)
    waived, waiver_notices = apply_waivers(
        results,
        items,
        waivers,
        today=started.date(),
        environment=settings.environment,
    )
    notices.extend(waiver_notices)
    decided, decision = decide(waived, settings.fail_on)
    if not any(counts_as_evaluated(r, settings.fail_on) for r in decided):
        notices.append(
            Notice(
                "nothing-evaluated",
                "no policy that could block the release was evaluated (every block policy at "
                f"or above {settings.fail_on} was not applicable or errored), so this run "
                f"cannot say it is compliant in {settings.environment}",
            )
        )
    if settings.release:
        decision, more = _break_fix(settings, register, break_fix, decided, decision)
        notices.extend(more)
    elif settings.production:
        notices.append(
            Notice(
                "not-a-release",
                f"no --env was given: evaluated as {settings.environment} (its policies and "
                "settings apply), but not as a production release, so open break-fix "
                f"findings were not checked; release with --env {settings.environment}",
            )
        )
    return CheckReport(
        run_id=options.run_id or uuid.uuid4().hex,
        started_at=started,
        environment=settings.environment,
        fail_on=settings.fail_on,
        decision=decision,
        results=tuple(decided),
        notices=tuple(notices),
        coverage=coverage(register, policy_set.policies),
        paths=roots,
        tool_version=__version__,
        ledger=settings.ledger,
        register=register,
        clock_override=options.clock_override,
        release=settings.release,
        artifact_digests=tuple(sorted(store.read_digests().items())),
        inputs=(*settings.inputs, *register_files, *policy_files, *waiver_files),
    )
