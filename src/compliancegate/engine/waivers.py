"""Applying waivers to violations: shown and counted, never silent; expired ones reported."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from compliancegate.engine.conditions import values_equal
from compliancegate.errors import CompliancegateError
from compliancegate.model import Notice, PolicyResult, Status, Violation, Waiver


def waiver_matches(waiver: Waiver, item: Any) -> bool:
    """Every ``match`` path of the waiver equals its value on ``item`` (no match: all items).

    A path that cannot be evaluated on the item does not match: a waiver covers only what
    it was shown to cover."""
    for match in waiver.match:
        try:
            actual = match.path.search(item)
        except CompliancegateError:
            return False
        if not values_equal(actual, match.value):
            return False
    return True


def _first_match(
    candidates: list[Waiver], found: Violation, items: dict[str, Any]
) -> Waiver | None:
    # A violation found on no item is the policy's "missing evidence": only a waiver that
    # says missing_evidence: true covers it, and such a waiver covers nothing else, so a
    # waiver written for some items never also lets a release without its evidence through.
    if found.fingerprint not in items:
        return next((w for w in candidates if w.missing_evidence), None)
    item = items[found.fingerprint]
    return next((w for w in candidates if not w.missing_evidence and waiver_matches(w, item)), None)


def apply_waivers(
    results: Sequence[PolicyResult],
    items: dict[str, Any],
    waivers: Iterable[Waiver],
    *,
    today: dt.date,
    environment: str | None,
) -> tuple[list[PolicyResult], list[Notice]]:
    """Attach the first valid matching waiver to each violation and recompute statuses.

    ``items`` maps a violation's fingerprint to the item it was found on (waiver ``match``
    paths are evaluated on it); a violation with no item is missing evidence. Only a
    ``fail`` result whose violations are all waived becomes ``waived``: an ``error`` stays
    one, since the violations not found before it stopped cannot have been waived.

    Returns the new results and notices for expired waivers (which never apply), waivers
    naming an unknown policy and waivers that matched nothing.
    """
    by_policy: dict[str, list[Waiver]] = {}
    notices: list[Notice] = []
    all_waivers = list(waivers)
    known = {r.policy.id for r in results}
    for waiver in all_waivers:
        by_policy.setdefault(waiver.policy, []).append(waiver)
        if waiver.expired(today):
            notices.append(
                Notice(
                    "waiver-expired",
                    f"waiver {waiver.id} for {waiver.policy} expired on "
                    f"{waiver.expires.isoformat()} and no longer applies",
                    waiver.file,
                    waiver.line,
                )
            )
        if waiver.policy not in known:
            notices.append(
                Notice(
                    "waiver-unknown-policy",
                    f"waiver {waiver.id} names policy {waiver.policy!r}, which was not evaluated",
                    waiver.file,
                    waiver.line,
                )
            )
    used: set[str] = set()
    out: list[PolicyResult] = []
    for result in results:
        candidates = [
            w
            for w in by_policy.get(result.policy.id, [])
            if not w.expired(today) and (w.environments is None or environment in w.environments)
        ]
        if not candidates or not result.violations:
            out.append(result)
            continue
        violations: list[Violation] = []
        for found in result.violations:
            match = _first_match(candidates, found, items)
            if match is not None:
                used.add(match.id)
                found = dataclasses.replace(found, waiver=match)
            violations.append(found)
        status = result.status
        if status is Status.FAIL and all(v.waived for v in violations):
            status = Status.WAIVED
        out.append(dataclasses.replace(result, violations=tuple(violations), status=status))
    for waiver in all_waivers:
        if waiver.id not in used and not waiver.expired(today) and waiver.policy in known:
            notices.append(
                Notice(
                    "waiver-unused",
                    f"waiver {waiver.id} for {waiver.policy} matched no violation in this run",
                    waiver.file,
                    waiver.line,
                )
            )
    return out, notices
