"""The script-injection regexes are linear: a hostile workflow of megabytes is judged in
seconds, in a subprocess bounded by a timeout that the old, backtracking regex (115 s for
480 KB on an idle machine, quadratic beyond) overruns by orders of magnitude.

The bound is deliberately generous (the machine running the suite may be loaded): the test
tells linear from quadratic, not fast from slow; benchmarks/workflow_bench.py measures.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gha_gate import gate
from hostile_workflows import FLAGGED, composite_action, workflow

BOUND_SECONDS = 120


def _check(root: Path) -> dict[str, dict[str, object]]:
    return {r["policy"]["id"]: r for r in gate(root, timeout=BOUND_SECONDS)["results"]}


@pytest.mark.parametrize("n", [60_000, 250_000])
def test_hostile_workflow_is_judged_within_the_bound(tmp_path: Path, n: int) -> None:
    # About 0.6 MB and 2.5 MB: above and below the 480 KB that took 115 s before.
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "hostile.yml").write_text(workflow(n))
    action = tmp_path / ".github" / "actions" / "hostile"
    action.mkdir(parents=True)
    (action / "action.yml").write_text(composite_action(n))

    results = _check(tmp_path)

    injection = results["gha-no-script-injection"]
    flagged = {
        v["message"].split(": step ", 1)[1].split(" expands ", 1)[0]
        for v in injection["violations"]
    }
    # The composite action's chains and repeated contexts are flagged too (same names).
    assert flagged == FLAGGED
    indirect = results["gha-no-indirect-script-injection"]
    assert indirect["status"] == "fail"
    assert any("step matrix" in v["message"] for v in indirect["violations"])
