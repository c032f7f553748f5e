"""Script-injection policies on hostile workflows: run ``python benchmarks/workflow_bench.py``
from the repository root.

Builds the hostile workflow and composite action of ``tests/policies/hostile_workflows.py``
at about 5 MB and 20 MB, runs ``compliancegate check`` with ``policies/github-actions.yaml``
on each in a fresh process (the best of ``--repeat`` runs) and prints the time of the policy
evaluation and of the whole process, and the growth factor. The regexes must stay linear:
4x the input in at most 6x the time (quadratic would be 16x; both sizes are far larger than
the CPU caches, whose effect alone makes a 10x growth from 1 MB look like 13-16x). Exit
status 1 when they do not. (Before the rewrite,
the script-injection regex took 115 s on a 480 KB workflow.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "policies"))

from hostile_workflows import composite_action, workflow  # noqa: E402

LINEAR_LIMIT = 6.0
POLICIES = REPO / "policies" / "github-actions.yaml"

_CHILD = """
import json, sys, time
from pathlib import Path
from compliancegate.artifacts.selection import ArtifactStore
from compliancegate.engine.conditions import EvalContext
from compliancegate.engine.evaluation import evaluate_policy
from compliancegate.engine.durations import parse_instant
from compliancegate.loading.policies import load_policies

policies = load_policies([Path(sys.argv[2])]).policies
store = ArtifactStore([Path(sys.argv[1])])
ctx = EvalContext(parse_instant("2026-11-21T12:00:00Z"))
for policy in policies:  # parse the files once, outside the timing
    store.select(policy.input)
start = time.perf_counter()
statuses = {p.id: str(evaluate_policy(p, store, ctx, None)[0].status) for p in policies}
print(json.dumps({"seconds": time.perf_counter() - start, "statuses": statuses}))
"""


def run(n: int, repeat: int) -> tuple[float, float, int]:
    """(evaluation seconds, process seconds, bytes) for the workflows of size ``n``."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".github" / "workflows").mkdir(parents=True)
        (root / ".github" / "workflows" / "hostile.yml").write_text(workflow(n))
        (root / ".github" / "actions" / "x").mkdir(parents=True)
        (root / ".github" / "actions" / "x" / "action.yml").write_text(composite_action(n))
        size = sum(p.stat().st_size for p in root.rglob("*.yml"))
        best = (float("inf"), float("inf"))
        for _ in range(repeat):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(root), str(POLICIES)],
                capture_output=True,
                text=True,
                check=True,
            )
            wall = time.perf_counter() - start
            evaluation = json.loads(done.stdout)["seconds"]
            best = min(best, (evaluation, wall))
        return best[0], best[1], size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (best is kept)")
    args = parser.parse_args()
    small = run(250_000, args.repeat)
    large = run(1_000_000, args.repeat)
    for label, (evaluation, wall, size) in (("small", small), ("large", large)):
        print(
            f"{label:6} {size / 1e6:6.2f} MB  evaluation {evaluation:7.3f} s  process {wall:7.3f} s"
        )
    growth = large[0] / max(small[0], 1e-9)
    size_growth = large[2] / small[2]
    verdict = "linear" if growth <= LINEAR_LIMIT else "SUPERLINEAR"
    print(
        f"{size_growth:.1f}x input -> {growth:.1f}x evaluation time"
        f" ({verdict}, limit {LINEAR_LIMIT}x)"
    )
    return 0 if growth <= LINEAR_LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
