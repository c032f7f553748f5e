"""Workflows built to make a backtracking regular expression take quadratic time or worse.

Shared by tests/policies/test_script_injection_linear.py and benchmarks/workflow_bench.py.
Each shape aims at one part of the script-injection regexes: an expression that is never
closed, ``${{`` repeated without ``}}``, a very long accessor chain, the same context repeated
inside one expression, ``}`` runs, ``$`` runs, ids that the look-behinds inspect, and the
same shapes in a github-script ``script:``, a composite action and a computed matrix.
"""

from __future__ import annotations

import json

SHAPES = {
    "unclosed": lambda n: "${{ " * (n // 4),
    "never closed": lambda n: "${{ github.sha " + "x" * n,
    "long chain": lambda n: "${{ github.event.issue" + ".a" * (n // 2) + " }}",
    "repeated context": lambda n: "${{ " + "github.event.issue.a" * (n // 20),
    "repeated ids": lambda n: "${{ " + " github.event.x.id " * (n // 19) + "}}",
    "braces": lambda n: "${{ env" + "}" * n,
    "dollars": lambda n: "$" * n + "{{",
    "output chain": lambda n: "${{ steps" + ".a" * (n // 2) + " }}",
    "brackets": lambda n: "${{ github.event" + "['a']" * (n // 5) + " }}",
}
"""Hostile ``run:`` scripts of about ``n`` characters (none of them flagged by itself but
``long chain``, ``repeated context`` and ``brackets``, which name github.event fields)."""

FLAGGED = {"long chain", "repeated context", "brackets", "real injection", "github-script"}
"""The steps gha-no-script-injection must report in ``workflow(n)``."""


def workflow(n: int) -> str:
    """A workflow of about ``len(SHAPES) * n`` characters: one step per shape, one real
    injection, a github-script step and a computed-matrix job (JSON is YAML)."""
    steps = [{"name": name, "run": make(n)} for name, make in SHAPES.items()]
    steps.append({"name": "real injection", "run": 'echo "${{ github.event.issue.title }}"'})
    steps.append(
        {
            "name": "github-script",
            "uses": "actions/github-script@60a0d83039c74a4aee543508d2ffcb1c3799cdea",
            "with": {"script": SHAPES["unclosed"](n) + "${{ github.head_ref }}"},
        }
    )
    document = {
        "name": "hostile",
        "on": "push",
        "permissions": {},
        "jobs": {
            "steps": {"runs-on": "ubuntu-24.04", "steps": steps},
            "matrix": {
                "runs-on": "ubuntu-24.04",
                "strategy": {"matrix": "${{ fromJSON(needs.a.outputs.m) }}"},
                "steps": [{"name": "matrix", "run": "${{ matrix" * (n // 9)}],
            },
        },
    }
    return json.dumps(document)


def composite_action(n: int) -> str:
    """A composite action whose steps hold the same hostile scripts."""
    steps = [{"name": name, "shell": "bash", "run": make(n)} for name, make in SHAPES.items()]
    return json.dumps({"name": "hostile-action", "runs": {"using": "composite", "steps": steps}})
