"""Waivers: approved, expiring exceptions to policies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from compliancegate.engine.conditions import CompileContext, ConditionSyntaxError
from compliancegate.errors import LoadError
from compliancegate.loading.documents import display, read_yaml, validate
from compliancegate.model import PolicyId, Waiver, WaiverMatch

EXPECTED_SHAPE = """\
apiVersion: compliancegate/v1
kind: Waivers
waivers:
  - policy: POLICY-ID
    match: {name: ITEM}          # or missing_evidence: true
    reason: WHY
    approved_by: WHO
    expires: YYYY-MM-DD"""
"""The smallest valid waivers file, shown when a file has another shape."""


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Load a waivers file; every waiver needs a reason, an approver and an expiry date.

    ``missing_evidence: true`` makes a waiver cover the policy's missing evidence (and only
    that); it cannot have a ``match``."""
    name = display(path)
    waivers: list[Waiver] = []
    ids: set[str] = set()
    ctx = CompileContext(path.parent)
    position = 0  # across documents, so generated ids never collide
    for document in read_yaml(path):
        if document.data is None:
            continue
        if not isinstance(document.data, dict):
            found = "a list" if isinstance(document.data, list) else "a single value"
            raise LoadError(
                f"a waivers file is a mapping with a waivers: list, not {found}",
                file=name,
                line=document.line_at([]),
                hint="write it as:\n" + "\n".join("    " + x for x in EXPECTED_SHAPE.splitlines()),
            )
        validate("waivers", document, name)
        for i, raw in enumerate(document.data["waivers"]):
            position += 1
            where: list[str | int] = ["waivers", i]
            waiver_id = raw.get("id") or f"{raw['policy']}#{position}"
            if waiver_id in ids:
                raise LoadError(
                    f"duplicate waiver id {waiver_id!r}",
                    file=name,
                    line=document.line_at([*where, "id"]),
                )
            ids.add(waiver_id)
            try:
                expires = dt.date.fromisoformat(raw["expires"])
            except ValueError:
                raise LoadError(
                    f"expires {raw['expires']!r} is not a calendar date",
                    file=name,
                    line=document.line_at([*where, "expires"]),
                    subject=waiver_id,
                ) from None
            matches: list[WaiverMatch] = []
            for expression, value in (raw.get("match") or {}).items():
                try:
                    compiled = ctx.path(str(expression), [*where, "match", expression])
                except ConditionSyntaxError as exc:
                    raise LoadError(
                        f"match: {exc.message}",
                        file=name,
                        subject=waiver_id,
                        line=document.line_at([*where, "match", expression]),
                        hint=exc.hint,
                    ) from None
                matches.append(WaiverMatch(str(expression), compiled, value))
            missing_evidence = raw.get("missing_evidence", False)
            if missing_evidence and raw.get("match"):
                raise LoadError(
                    "a waiver for missing evidence cannot also have a match (there is no item "
                    "to match)",
                    file=name,
                    line=document.line_at([*where, "missing_evidence"]),
                    subject=waiver_id,
                    hint="write two waivers: one with match:, one with missing_evidence: true",
                )
            environments = raw.get("environments")
            waivers.append(
                Waiver(
                    id=waiver_id,
                    policy=PolicyId(raw["policy"]),
                    match=tuple(matches),
                    reason=raw["reason"],
                    approved_by=raw["approved_by"],
                    expires=expires,
                    environments=tuple(environments) if environments else None,
                    file=name,
                    line=document.line_at(where),
                    missing_evidence=missing_evidence,
                )
            )
    return tuple(waivers)
