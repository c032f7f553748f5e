"""Evaluating one policy against the artifacts its input selects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from compliancegate.artifacts.interface import RAW_KIND
from compliancegate.artifacts.kinds import KINDS
from compliancegate.engine.conditions import EvalContext, Failure, describe_unprintable
from compliancegate.errors import CompliancegateError
from compliancegate.model import (
    Artifact,
    InputSpec,
    Location,
    Policy,
    PolicyResult,
    Status,
    Violation,
)


class ArtifactSource(Protocol):
    """What evaluation needs from the artifact layer (``ArtifactStore`` in practice)."""

    def select(self, spec: InputSpec) -> Any:
        """A ``Selection``: artifacts, errors and the files matched."""
        ...


def fingerprint(policy_id: str, kind: str, item_key: str) -> str:
    """The stable identity of a violation: SHA-256 over policy, artifact kind and item key,
    each followed by a NUL byte."""
    # surrogatepass: a lone surrogate read from a document ("\ud800" in JSON) is not UTF-8,
    # but it must still hash (stably, and unlike any other text) rather than crash the run;
    # for every other string this is plain UTF-8, so fingerprints do not change. One string
    # hashed in one call: this runs once per violation.
    text = f"{policy_id}\x00{kind}\x00{item_key}\x00"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# The string encoder JSONEncoder(ensure_ascii=False) itself uses.
_STRING: Callable[[str], str] = json.encoder.encode_basestring
# One encoder for every item: json.dumps with options builds a new one per call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode


def _canonical(value: Any) -> str:
    # What policies' keys select: a string, or a list of strings ([id, package, version]).
    # Written directly with the encoder's own string function: the same text, a third of
    # the time (a differential test holds them equal).
    if value.__class__ is str:
        return _STRING(value)
    if value.__class__ is list and all(part.__class__ is str for part in value):
        return "[" + ",".join(map(_STRING, value)) + "]"
    try:
        return _CANONICAL(value)
    except (ValueError, TypeError):
        # An integer past Python's 4,300-digit str() limit, or keys that cannot be sorted.
        return repr(type(value)) + describe_unprintable(value)


def item_key(policy: Policy, artifact: Artifact, failure: Failure) -> str:
    """What identifies the failing item across runs.

    Raw documents are identified by their file and position; normalized kinds are not, so a
    scanner report that is renamed between runs keeps its findings' identity. Within that,
    an item is identified by its content, or by the policy's ``key`` (the fields that name
    it: a container's name, a CVE and package) so that it keeps its identity when unrelated
    fields change. A failure of the whole document (a coverage threshold, a missing block)
    is identified by the document alone: its content changes from run to run, and the
    ledger must see one break that stays open until it is fixed, not a new one each run.
    """
    if failure.item is artifact.document:
        content: Any = None
    else:
        content = failure.item
        if policy.key is not None:
            try:
                content = policy.key.search(failure.item)
            except CompliancegateError:
                content = failure.item
        elif artifact.kind in KINDS:
            content = KINDS[artifact.kind].item_key(failure.item) or failure.item
    parts = [_canonical(content), failure.subkey]
    if artifact.kind == RAW_KIND:
        parts.insert(0, f"{artifact.path}#{artifact.index}")
    return "\x1f".join(parts)


def _location(artifact: Artifact, item: Any) -> Location:
    line = artifact.line
    if artifact.line_of is not None and isinstance(item, dict | list):
        line = artifact.line_of.get(id(item), line)
    if isinstance(item, dict) and artifact.kind != RAW_KIND:
        # Normalized items carry the location their producer gave (SARIF, JUnit), else the
        # file they were read from (a combined document spans several files).
        file = item.get("file")
        item_line = item.get("line")
        if isinstance(file, str) and file:
            return Location(file, item_line if isinstance(item_line, int) else None)
        source = item.get("source")
        if isinstance(source, str) and source:
            return Location(source, None)
    return Location(artifact.path, line)


def _template_values(policy: Policy, artifact: Artifact | None) -> dict[str, Any]:
    """What message templates may read, but the failure's ``item`` and ``error``: built once
    per policy and artifact, not once per violation."""
    return {
        "item": None,
        "document": artifact.document if artifact is not None else None,
        "artifact": (
            {
                "path": artifact.path,
                "format": artifact.format,
                "kind": artifact.kind,
                "index": artifact.index,
            }
            if artifact is not None
            else {}
        ),
        "policy": {"id": policy.id, "title": policy.title, "severity": str(policy.severity)},
        "error": None,
    }


def _render(
    policy: Policy, artifact: Artifact | None, failure: Failure, values: dict[str, Any]
) -> tuple[str, str | None]:
    values["item"] = failure.item
    values["error"] = failure.detail
    if policy.message is not None and artifact is not None:
        message = policy.message.render(values)
    elif artifact is not None:
        message = f"{policy.title}: {failure.detail}"
    else:
        message = failure.detail
    if artifact is None:
        # Missing evidence: the item template has nothing to fill in, so say what to supply.
        return message, f"Supply the evidence this policy reads ({policy.input.describe()})"
    remediation = policy.remediation.render(values) if policy.remediation is not None else None
    return message, remediation


def _violation(
    policy: Policy,
    artifact: Artifact | None,
    failure: Failure,
    key: str,
    kind: str,
    location: Location,
    values: dict[str, Any],
) -> Violation:
    message, remediation = _render(policy, artifact, failure, values)
    return Violation(
        fingerprint=fingerprint(policy.id, kind, key),
        policy=policy.id,
        controls=policy.controls,
        severity=policy.severity,
        message=message,
        remediation=remediation,
        location=location,
        kind=kind,
    )


def evaluate_policy(
    policy: Policy,
    artifacts: ArtifactSource,
    ctx: EvalContext,
    environment: str | None,
    roots: Sequence[str] = (),
) -> tuple[PolicyResult, dict[str, Any]]:
    """Evaluate ``policy`` on every artifact its input selects (waivers are applied later).

    Returns the result and, for each violation's fingerprint, the item it was found on (the
    waivers' ``match`` paths are evaluated on it).

    A required input that matches nothing is a failure ("missing evidence"); a file that
    cannot be parsed, or a rule that cannot be evaluated on a document, ends the policy in
    ``error``; neither ever passes.
    """
    if not policy.applies_to(environment):
        return PolicyResult(policy, Status.NOT_APPLICABLE), {}
    selection = artifacts.select(policy.input)
    files = tuple(selection.files)
    errors = [str(e) for e in selection.errors]
    if not selection.artifacts and not errors:
        if not policy.required:
            return PolicyResult(policy, Status.NOT_APPLICABLE, artifacts=files), {}
        where = f" under {', '.join(roots)}" if roots else ""
        if selection.missing:
            detail = f"missing evidence: {selection.missing}"
        elif files:
            detail = (
                f"missing evidence: {', '.join(files[:5])}{' ...' if len(files) > 5 else ''} "
                f"matched {policy.input.describe()} but held no document"
            )
        else:
            detail = f"missing evidence: no artifact matched {policy.input.describe()}{where}"
        failure = Failure(None, detail)
        kind = policy.input.kind or RAW_KIND
        values = _template_values(policy, None)
        violation = _violation(
            policy, None, failure, "missing-evidence", kind, Location(None), values
        )
        return PolicyResult(policy, Status.FAIL, (violation,), artifacts=files), {}

    violations: list[Violation] = []
    items: dict[str, Any] = {}
    for artifact in selection.artifacts:
        values = _template_values(policy, artifact)
        try:
            failures = policy.rule.failures(artifact.document, ctx)
        except CompliancegateError as exc:
            errors.append(f"{artifact.path}: {exc.message}")
            continue
        except RecursionError:
            errors.append(f"{artifact.path}: document too deeply nested to evaluate")
            continue
        for failure in failures:
            if failure.error:
                errors.append(f"{artifact.path}: {failure.detail}")
                continue
            try:
                violation = _violation(
                    policy,
                    artifact,
                    failure,
                    item_key(policy, artifact, failure),
                    artifact.kind,
                    _location(artifact, failure.item),
                    values,
                )
            except RecursionError:
                # The item's identity (its canonical JSON) or message could not be built.
                errors.append(f"{artifact.path}: a failing item too deeply nested to report")
                continue
            if violation.fingerprint in items:  # the same item selected twice by a path
                continue
            items[violation.fingerprint] = failure.item
            violations.append(violation)
    if errors:
        result = PolicyResult(
            policy, Status.ERROR, tuple(violations), error="; ".join(errors), artifacts=files
        )
        return result, items
    status = Status.FAIL if violations else Status.PASS
    return PolicyResult(policy, status, tuple(violations), artifacts=files), items
