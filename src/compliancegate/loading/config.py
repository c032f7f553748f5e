"""``compliancegate.yaml``: where the policies, registers, waivers and evidence are, and
per-environment settings. Paths in it are relative to the file; flags override it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliancegate.errors import LoadError
from compliancegate.loading.builtin import Kind, is_builtin, resolve_builtin
from compliancegate.loading.documents import display, read_yaml, validate
from compliancegate.loading.safe_yaml import YamlDocument
from compliancegate.model import Severity

CONFIG_NAME = "compliancegate.yaml"


@dataclass(frozen=True)
class EnvironmentSettings:
    """Overrides that apply when ``check --env NAME`` is used."""

    policies: tuple[Path, ...] | None = None
    registers: tuple[Path, ...] | None = None
    waivers: Path | None = None
    fail_on: Severity | None = None
    paths: tuple[Path, ...] | None = None


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
        )
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
    )


def find_config(explicit: Path | None) -> Config:
    """The config named on the command line, else ``./compliancegate.yaml``, else defaults."""
    if explicit is not None:
        return load_config(explicit)
    default = Path(CONFIG_NAME)
    if default.is_file():
        return load_config(default)
    return Config()
