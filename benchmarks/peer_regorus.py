"""The Rego peer run by regorus (PyPI ``opa-eval``), as a whole process.

``python benchmarks/peer_regorus.py CASE OUT``: reads CASE/policy.rego and the raw artifact in
CASE/evidence, evaluates ``data.main.deny`` (conftest's query) with the JSON text handed to
the engine as it is on disk (regorus parses it), and writes the denied messages to OUT as a
JSON list. Exit 3 when the engine is not installed (the benchmark reports it as skipped).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    try:
        import opa_eval
    except ImportError:
        return 3
    case, out = Path(sys.argv[1]), Path(sys.argv[2])
    (artifact,) = (case / "evidence").iterdir()
    engine = opa_eval.OpaEval(str(case / "policy.rego"), query="data.main.deny")
    # evaluate() returns the result as JSON text: written as it is, no Python objects built.
    out.write_text(engine.evaluate(artifact.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
