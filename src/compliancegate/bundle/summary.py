"""``bundle show``: what a bundle says, for an auditor to read (verification is separate).

The summary is built from the manifest, the ledger segment and the findings' timelines:
the period, the runs and their decisions, the findings opened and closed in the scope with
their time to remediate, the breaches and the waivers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from compliancegate.bundle import layout
from compliancegate.errors import CompliancegateError


class BundleReadError(CompliancegateError):
    """The bundle cannot be read for a summary."""


def _kept(name: str) -> bool:
    return name in (layout.MANIFEST, layout.TIMELINES)


def _load(data: bytes | None, name: str, bundle: Path) -> Any:
    if data is None:
        raise BundleReadError(f"{name} is missing", file=str(bundle))
    from compliancegate.artifacts.strict_json import loads

    try:
        return loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise BundleReadError(
            f"{name} is not valid JSON ({type(exc).__name__}: {exc})", file=str(bundle)
        ) from None


def _hours(start: str, end: str | None) -> float | None:
    from compliancegate.ledger.records import parse_time

    if end is None:
        return None
    return round((parse_time(end) - parse_time(start)) / dt.timedelta(hours=1), 1)


def _in(event: Mapping[str, Any], first: int, end: int) -> bool:
    seq = event.get("seq")
    return isinstance(seq, int) and first <= seq <= end


def summarize_bundle(path: Path) -> dict[str, Any]:
    """The summary of the bundle at ``path`` as a JSON-ready document.

    ``BundleReadError`` (or the archive's ``ArchiveError``) when it cannot be read.
    """
    from compliancegate.bundle.archive import scan_archive

    members = {m.name: m for m in scan_archive(path, keep=_kept)}
    manifest = _load(
        members[layout.MANIFEST].data if layout.MANIFEST in members else None, layout.MANIFEST, path
    )
    timelines = _load(
        members[layout.TIMELINES].data if layout.TIMELINES in members else None,
        layout.TIMELINES,
        path,
    )
    try:
        return _summary(manifest, timelines, len(members))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # Unverified content: whatever shape it has, a message, never a traceback.
        raise BundleReadError(
            f"the manifest or timelines are malformed ({type(exc).__name__}: {exc})",
            file=str(path),
        ) from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _summary(manifest: Any, timelines: Any, members: int) -> dict[str, Any]:
    ledger = manifest["ledger"]
    first, end = int(ledger["first"]), int(ledger["end"])
    findings = [_finding(f, first, end) for f in timelines["findings"]]
    runs: list[dict[str, Any]] = [
        {
            "run_id": str(run["run_id"]),
            "at": str(run["at"]),
            "environment": _text(run["environment"]),
            "decision": str(run["decision"]),
            "evidence": run["evidence"] is not None,
        }
        for run in manifest["runs"]
    ]
    decisions: dict[str, int] = {}
    for run in runs:
        decision = str(run["decision"])
        decisions[decision] = decisions.get(decision, 0) + 1
    closed = [f for f in findings if f["closed_in_scope"]]
    hours = [f["hours_to_remediate"] for f in closed if f["hours_to_remediate"] is not None]
    scope = {str(k): str(v) for k, v in dict(manifest["scope"]).items()}
    return {
        "apiVersion": layout.API_VERSION,
        "kind": "EvidenceBundleSummary",
        "scope": scope,
        "artifacts": str(manifest["artifacts"]),
        "ledger": {
            "location": str(ledger["location"]),
            "records": [first, end],
            "signed": bool(ledger["signed"]),
            "head": ledger["head"],
        },
        "members": members,
        "runs": runs,
        "decisions": decisions,
        "findings": findings,
        "opened": sum(1 for f in findings if f["opened_in_scope"]),
        "closed": len(closed),
        "mean_hours_to_remediate": round(sum(hours) / len(hours), 1) if hours else None,
        "breaches": sum(len(f["breaches"]) for f in findings),
        "waived": sum(1 for f in findings if f["waived_in_scope"]),
    }


def _finding(finding: Mapping[str, Any], first: int, end: int) -> dict[str, Any]:
    events = finding["timeline"]

    def happened(kind: str) -> bool:
        return any(e["event"] == kind and _in(e, first, end) for e in events)

    return {
        "id": str(finding["id"]),
        "title": str(finding["title"]),
        "severity": str(finding["severity"]),
        "controls": [str(c) for c in finding["controls"]],
        "status": str(finding["status"]),
        "opened_at": str(finding["opened_at"]),
        "resolved_at": _text(finding["resolved_at"]),
        "due": _text(finding["due"] or finding["due_before"]),
        "opened_in_scope": happened("opened"),
        "closed_in_scope": happened("resolved"),
        "waived_in_scope": happened("waived"),
        "waiver": _text(finding["waiver"]),
        "hours_to_remediate": _hours(str(finding["opened_at"]), _text(finding["resolved_at"])),
        "breaches": list(finding["breaches"]),
    }


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def summary_text(summary: Mapping[str, Any]) -> str:
    """The summary for a terminal."""
    from compliancegate.reporters._common import one_line as inert

    scope = summary["scope"]
    if "run" in scope:
        what = f"run {inert(scope['run'])}"
    else:
        what = f"{scope.get('since', 'the start')} to {scope.get('until', 'the end')}"
    ledger = summary["ledger"]
    lines = [
        f"Evidence bundle: {what}",
        f"Ledger: {inert(ledger['location'])}, records {ledger['records'][0]} to "
        f"{ledger['records'][1]}, {'signed' if ledger['signed'] else 'not signed'}",
        f"Artifacts: {summary['artifacts']}; {summary['members']} files",
        "",
    ]
    decisions = ", ".join(f"{n} {d}" for d, n in sorted(summary["decisions"].items()))
    lines.append(f"Runs: {len(summary['runs'])} ({decisions or 'none'})")
    if summary["runs"]:
        rows = [["at", "environment", "decision", "run", "evidence"]]
        rows += [
            [
                r["at"],
                inert(r["environment"] or "-"),
                r["decision"],
                inert(r["run_id"]),
                "kept" if r["evidence"] else "ledger only",
            ]
            for r in summary["runs"]
        ]
        lines += ["  " + line for line in _table(rows)]
    mean = summary["mean_hours_to_remediate"]
    lines += [
        "",
        f"Findings: {summary['opened']} opened, {summary['closed']} closed"
        + (f" (mean time to remediate {mean} h)" if mean is not None else "")
        + f", {summary['breaches']} breach(es), {summary['waived']} waived",
    ]
    if summary["findings"]:
        rows = [["finding", "severity", "status", "opened", "resolved", "hours", "breaches"]]
        for f in summary["findings"]:
            hours = f["hours_to_remediate"]
            rows.append(
                [
                    f["id"],
                    f["severity"],
                    f["status"] + (f" ({inert(f['waiver'])})" if f["waiver"] else ""),
                    f["opened_at"],
                    f["resolved_at"] or "-",
                    "-" if hours is None else str(hours),
                    str(len(f["breaches"])),
                ]
            )
        lines += ["  " + line for line in _table(rows)]
    lines += [
        "",
        "This summary does not verify the bundle: run `compliancegate bundle verify "
        "BUNDLE --pubkey KEY.pub`.",
    ]
    return "\n".join(lines) + "\n"
