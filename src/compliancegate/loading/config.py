"""``compliancegate.yaml``: where the policies, registers, waivers and evidence are, the
declared environments (which one is production) and their settings. Paths in it are relative
to the file; flags override it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compliancegate.errors import LoadError
from compliancegate.loading.builtin import Kind, is_builtin, resolve_builtin
from compliancegate.loading.documents import display, read_yaml, validate
from compliancegate.loading.safe_yaml import YamlDocument
from compliancegate.model import PRODUCTION_ENVIRONMENT, Severity

CONFIG_NAME = "compliancegate.yaml"


@dataclass(frozen=True)
class EnvironmentSettings:
    """Overrides that apply when ``check --env NAME`` is used."""

    policies: tuple[Path, ...] | None = None
    registers: tuple[Path, ...] | None = None
    waivers: Path | None = None
    fail_on: Severity | None = None
    paths: tuple[Path, ...] | None = None
    production: bool = False
    """True for the one environment whose runs are production releases."""


@dataclass(frozen=True)
class Config:
    """A loaded config file (or the defaults when there is none)."""

    file: Path | None = None
    policies: tuple[Path, ...] = ()
    registers: tuple[Path, ...] = ()
    waivers: Path | None = None
    paths: tuple[Path, ...] = ()
    exclude: tuple[str, ...] = ()
    artifacts: tuple[tuple[str, str], ...] = ()
    fail_on: Severity | None = None
    environment: str | None = None
    ledger: str | None = None
    reports: tuple[tuple[str, Path], ...] = ()
    max_artifact_bytes: int | None = None
    environments: dict[str, EnvironmentSettings] = field(default_factory=dict)
    git_base: str | None = None
    """``git: {base: REF}``: what git's ``changed_files`` compare against (``--git-base``)."""
    break_fix_enforced: bool = True
    """False only when the config says ``break_fix: {enforce: false}``."""
    ledger_cap: int | None = None
    """``limits: {ledger_findings_per_policy: N}``: violations of one policy a run records
    with their text (None: ``ledger.overflow.DEFAULT_CAP``)."""

    @property
    def declared(self) -> tuple[str, ...]:
        """The environment names ``--env`` accepts: the config's, else ``production`` only."""
        return tuple(self.environments) or (PRODUCTION_ENVIRONMENT,)

    @property
    def production(self) -> str:
        """The name of the production environment (``production`` without a config)."""
        return next(
            (name for name, env in self.environments.items() if env.production),
            PRODUCTION_ENVIRONMENT,
        )


def _paths(base: Path, values: Any) -> tuple[Path, ...]:
    return tuple(base / v for v in values)


def _libraries(
    base: Path, document: YamlDocument, name: str, where: list[str | int], kind: Kind
) -> tuple[Path, ...]:
    """Policy or register paths relative to the config, or ``builtin:`` references to the
    libraries shipped in the package (``loading/builtin.py``)."""
    node: Any = document.data
    for key in where:
        node = (node.get(key) or {}) if isinstance(node, dict) else ()
    found = []
    for i, value in enumerate(node):
        if not is_builtin(value):
            found.append(base / value)
            continue
        try:
            found.append(resolve_builtin(value, kind))
        except LoadError as exc:
            line = document.line_at([*where, i])
            raise LoadError(exc.message, file=name, line=line, hint=exc.hint) from None
    return tuple(found)


def load_config(path: Path) -> Config:
    """Load and validate a config file."""
    name = display(path)
    documents = [d for d in read_yaml(path) if d.data is not None]
    if len(documents) != 1:
        raise LoadError(f"expected one config document, found {len(documents)}", file=name)
    document = documents[0]
    validate("config", document, name)
    data = document.data
    base = path.parent
    environments = {}
    for env, raw in (data.get("environments") or {}).items():
        environments[str(env)] = EnvironmentSettings(
            policies=(
                _libraries(base, document, name, ["environments", env, "policies"], "policies")
                if "policies" in raw
                else None
            ),
            registers=(
                _libraries(base, document, name, ["environments", env, "registers"], "registers")
                if "registers" in raw
                else None
            ),
            waivers=base / raw["waivers"] if "waivers" in raw else None,
            fail_on=Severity(raw["fail_on"]) if "fail_on" in raw else None,
            paths=_paths(base, raw["paths"]) if "paths" in raw else None,
            production=raw.get("production", False),
        )
    _check_environments(environments, data.get("environment"), document, name)
    from compliancegate.artifacts.registry import get_format

    artifacts = []
    for i, entry in enumerate(data.get("artifacts") or []):
        fmt = entry.get("format")
        if fmt is not None and get_format(fmt) is None:
            raise LoadError(
                f"unknown format {fmt!r}",
                file=name,
                line=document.line_at(["artifacts", i, "format"]),
            )
        artifacts.append((entry["glob"], fmt or ""))
    from compliancegate.reporters import REPORTERS

    for fmt in data.get("reports") or {}:
        if fmt not in REPORTERS:
            raise LoadError(
                f"reports: unknown format {fmt!r}",
                file=name,
                line=document.line_at(["reports", fmt]),
                hint="formats: " + ", ".join(sorted(REPORTERS)),
            )
    ledger = data.get("ledger")
    if ledger is not None:
        from compliancegate.ledger.location import scheme_problem

        problem = scheme_problem(ledger)
        if problem is not None:
            raise LoadError(f"ledger: {problem}", file=name, line=document.line_at(["ledger"]))
    if ledger is not None and not ledger.startswith("git:"):
        ledger = str(base / ledger)
    return Config(
        file=path,
        policies=_libraries(base, document, name, ["policies"], "policies"),
        registers=_libraries(base, document, name, ["registers"], "registers"),
        waivers=base / data["waivers"] if "waivers" in data else None,
        paths=_paths(base, data.get("paths", [])),
        exclude=tuple(data.get("exclude", [])),
        artifacts=tuple(artifacts),
        fail_on=Severity(data["fail_on"]) if "fail_on" in data else None,
        environment=data.get("environment"),
        ledger=ledger,
        reports=tuple((fmt, base / target) for fmt, target in (data.get("reports") or {}).items()),
        max_artifact_bytes=(data.get("limits") or {}).get("max_artifact_bytes"),
        environments=environments,
        git_base=(data.get("git") or {}).get("base"),
        break_fix_enforced=(data.get("break_fix") or {}).get("enforce", True),
        ledger_cap=(data.get("limits") or {}).get("ledger_findings_per_policy"),
    )


def _check_environments(
    environments: dict[str, EnvironmentSettings],
    default: str | None,
    document: Any,
    name: str,
) -> None:
    """Exactly one declared environment is production, and the default is declared.

    A config that declares environments but none of them production would make every
    release a non-production run (no break-fix rule): refused rather than guessed. For
    configs written before ``production: true`` existed, an environment named exactly
    ``production`` is the production one when none is marked.
    """
    if environments:
        marked = [env for env, settings in environments.items() if settings.production]
        if len(marked) > 1:
            raise LoadError(
                f"environments {', '.join(marked)} are all marked production: true",
                file=name,
                line=document.line_at(["environments", marked[1], "production"]),
                hint="mark exactly one environment production: true",
            )
        if not marked:
            if PRODUCTION_ENVIRONMENT not in environments:
                raise LoadError(
                    "no environment is marked production: true "
                    f"(declared: {', '.join(environments)})",
                    file=name,
                    line=document.line_at(["environments"]),
                    hint="add production: true to the environment whose runs are releases",
                )
            old = environments[PRODUCTION_ENVIRONMENT]
            environments[PRODUCTION_ENVIRONMENT] = replace(old, production=True)
    declared = tuple(environments) or (PRODUCTION_ENVIRONMENT,)
    if default is not None and default not in declared:
        raise LoadError(
            f"environment: {default!r} is not a declared environment "
            f"(declared: {', '.join(declared)})",
            file=name,
            line=document.line_at(["environment"]),
            hint="declare it under environments:, or fix the name",
        )


def find_config(explicit: Path | None) -> Config:
    """The config named on the command line, else ``./compliancegate.yaml``, else defaults."""
    if explicit is not None:
        return load_config(explicit)
    default = Path(CONFIG_NAME)
    if default.is_file():
        return load_config(default)
    return Config()
