"""Policies: validated against the package schema, then compiled once (paths, regexes,
schemas, templates) into ``Policy`` values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliancegate.engine.conditions import CompileContext, ConditionSyntaxError, compile_condition
from compliancegate.engine.templates import compile_template
from compliancegate.errors import CompliancegateError, LoadError
from compliancegate.loading.documents import display, read_yaml, validate
from compliancegate.loading.files import FoundFiles, find_yaml_files, nothing_found
from compliancegate.loading.safe_yaml import YamlDocument
from compliancegate.model import (
    ControlRef,
    Enforcement,
    InputSpec,
    Policy,
    PolicyId,
    Register,
    Severity,
)

FIXTURE_DIRS = frozenset({"fixtures", "testdata"})
"""Folders inside a policy directory that hold test inputs, not policies."""


@dataclass(frozen=True)
class PolicyTestDocument:
    """A ``kind: PolicyTest`` document found beside the policies (run by ``policy test``)."""

    document: YamlDocument
    file: Path


@dataclass(frozen=True)
class PolicySet:
    """Every policy (and policy test document) loaded from the given paths."""

    policies: tuple[Policy, ...]
    tests: tuple[PolicyTestDocument, ...]
    hidden: tuple[Path, ...] = ()
    """Hidden YAML files below the policy folders, not read (the caller reports them)."""

    def by_id(self) -> dict[str, Policy]:
        """Policies keyed by id."""
        return {p.id: p for p in self.policies}


def load_policies(paths: Iterable[Path], register: Register | None = None) -> PolicySet:
    """Load every policy under ``paths``; with a ``register``, each control must exist in it.

    Raises ``LoadError`` (file, line, policy id) for schema errors, duplicate ids, unknown
    controls, bad JMESPath, regexes, durations, schemas or templates.
    """
    policies: list[Policy] = []
    tests: list[PolicyTestDocument] = []
    first_seen: dict[str, str] = {}
    named = list(paths)
    files = _policy_files(named)
    for path in files.files:
        name = display(path)
        for document in read_yaml(path):
            data = document.data
            if data is None:
                continue
            kind = data.get("kind") if isinstance(data, dict) else None
            if kind == "PolicyTest":
                tests.append(PolicyTestDocument(document, path))
                continue
            subject = data.get("id") if isinstance(data, dict) else None
            if kind != "Policy":
                raise LoadError(
                    f"expected kind Policy or PolicyTest, found {kind!r}",
                    file=name,
                    line=document.line_at(["kind"]),
                    subject=subject if isinstance(subject, str) else None,
                    hint="put test inputs under a folder named fixtures/ or testdata/",
                )
            validate("policy", document, name, subject if isinstance(subject, str) else None)
            policy = compile_policy(document, path)
            if policy.id in first_seen:
                raise LoadError(
                    f"duplicate policy id (first defined at {first_seen[policy.id]})",
                    file=name,
                    line=document.line_at(["id"]),
                    subject=policy.id,
                )
            first_seen[policy.id] = f"{name}:{document.line_at(['id'])}"
            if register is not None:
                for i, ref in enumerate(policy.controls):
                    if register.control(ref) is None:
                        raise LoadError(
                            f"control {ref!r} is not in the register",
                            file=name,
                            line=document.line_at(["controls", i]),
                            subject=policy.id,
                            hint="add it to the register, or fix the STANDARD:CONTROL name",
                        )
            policies.append(policy)
    if not policies:
        raise nothing_found(named, files, kind="Policy", what="policies")
    return PolicySet(tuple(policies), tuple(tests), files.hidden)


def _policy_files(paths: Iterable[Path]) -> FoundFiles:
    """The policy files under ``paths``, skipping fixture folders *below* each named directory
    (a checkout that itself lives under a folder called ``fixtures`` keeps its policies)."""
    found: dict[Path, None] = {}
    hidden: list[Path] = []
    for root in paths:
        base = root.resolve()
        files = find_yaml_files([root], what="policy")
        # Test inputs under fixtures/ may be hidden (.github/workflows): not worth a notice.
        hidden += [
            p for p in files.hidden if not FIXTURE_DIRS.intersection(p.relative_to(root).parts)
        ]
        for path in files.files:
            below = path.parts[:-1]
            if path.is_relative_to(base):
                below = below[len(base.parts) :]
            if not FIXTURE_DIRS.intersection(below):
                found.setdefault(path, None)
    return FoundFiles(tuple(found), tuple(hidden))


def compile_policy(document: YamlDocument, path: Path) -> Policy:
    """Compile one schema-valid policy document."""
    data: dict[str, Any] = document.data
    name = display(path)
    policy_id = data["id"]

    def fail(message: str, where: list[str | int], hint: str | None = None) -> LoadError:
        return LoadError(
            message, file=name, line=document.line_at(where), subject=policy_id, hint=hint
        )

    ctx = CompileContext(path.parent)
    try:
        rule = compile_condition(data["rule"], ctx)
    except ConditionSyntaxError as exc:
        where = ".".join(str(p) for p in exc.where)
        raise fail(f"{where}: {exc.message}", list(exc.where), exc.hint) from None

    templates = {}
    for field in ("message", "remediation"):
        if field in data:
            try:
                templates[field] = compile_template(data[field])
            except ValueError as exc:
                raise fail(str(exc), [field]) from None
    key = None
    if "key" in data:
        try:
            key = ctx.path(data["key"], ["key"])
        except ConditionSyntaxError as exc:
            raise fail(f"key: {exc.message}", ["key"], exc.hint) from None

    raw_input = data["input"]
    if isinstance(raw_input, str):
        spec = InputSpec(kind=raw_input)
    else:
        spec = InputSpec(glob=raw_input["glob"], format=raw_input.get("format"))
    _check_input(spec, fail)

    environments = data.get("environments")
    return Policy(
        id=PolicyId(policy_id),
        title=data["title"],
        description=data.get("description", ""),
        controls=tuple(ControlRef(c) for c in data["controls"]),
        severity=Severity(data["severity"]),
        enforcement=Enforcement(data.get("enforcement", "block")),
        environments=tuple(environments) if environments is not None else None,
        input=spec,
        required=data.get("required", True),
        rule=rule,
        message=templates.get("message"),
        remediation=templates.get("remediation"),
        key=key,
        file=name,
        line=document.start_line,
    )


def _check_input(spec: InputSpec, fail: Any) -> None:
    from compliancegate.artifacts.registry import known_inputs
    from compliancegate.artifacts.selection import compile_glob

    kinds, formats = known_inputs()
    if spec.kind is not None and spec.kind not in kinds | formats:
        raise fail(
            f"unknown input {spec.kind!r}",
            ["input"],
            "inputs: " + ", ".join(sorted(kinds | formats)),
        )
    if spec.format is not None and spec.format not in formats:
        raise fail(
            f"unknown format {spec.format!r}",
            ["input", "format"],
            "formats: " + ", ".join(sorted(formats)),
        )
    if spec.glob is not None:
        try:
            compile_glob(spec.glob)
        except CompliancegateError as exc:
            raise fail(exc.message, ["input", "glob"]) from None
