"""Verdicts of the gate benchmark: ``python benchmarks/gate_verdicts.py CASE ENGINE...``.

Reads compliancegate's JSON report (CASE/compliancegate.json) and each engine's list of denied
messages (CASE/ENGINE.json), and prints as JSON the number of violations compliancegate found
and, per engine, ``equal`` or how its verdict differs: the set of denied items of each policy
(every message is ``POLICY|identity``). A policy compliancegate ended in ``error`` is a
difference too: a benchmark whose gate cannot finish measures nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def denied(report: dict[str, object]) -> tuple[set[str], list[str]]:
    """compliancegate's denied messages, and the ids of policies that ended in error."""
    messages: set[str] = set()
    errors = []
    for result in report["results"]:  # type: ignore[attr-defined]
        if result["status"] == "error":
            errors.append(result["policy"]["id"])
        messages.update(v["message"] for v in result["violations"])
    return messages, errors


def compare(ours: set[str], theirs: set[str]) -> str:
    """``equal``, or the count of items each side alone denies and an example."""
    if ours == theirs:
        return "equal"
    missing, extra = sorted(ours - theirs), sorted(theirs - ours)
    example = (missing or extra)[0]
    return (
        f"DIFFERENT: {len(missing)} only compliancegate, {len(extra)} only the peer"
        f" (e.g. {example})"
    )


def main() -> int:
    case = Path(sys.argv[1])
    report = json.loads((case / "compliancegate.json").read_text(encoding="utf-8"))
    ours, errors = denied(report)
    engines = {}
    for engine in sys.argv[2:]:
        theirs = set(json.loads((case / f"{engine}.json").read_text(encoding="utf-8")))
        engines[engine] = compare(ours, theirs)
        if errors:
            engines[engine] = f"DIFFERENT: compliancegate policies in error: {errors[:5]}"
    print(json.dumps({"violations": len(ours), "engines": engines}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
