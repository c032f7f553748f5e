"""The Rego peer run by rego-cpp (PyPI ``regopy``), as a whole process.

``python benchmarks/peer_regocpp.py CASE OUT``: reads CASE/policy.rego and the raw artifact in
CASE/evidence, hands the JSON text to the interpreter as the input term (rego-cpp parses it),
queries ``data.main.deny`` (conftest's query) and writes the denied messages to OUT as a JSON
list. Exit 3 when the engine is not installed (the benchmark reports it as skipped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    try:
        import regopy
    except ImportError:
        return 3
    case, out = Path(sys.argv[1]), Path(sys.argv[2])
    (artifact,) = (case / "evidence").iterdir()
    interpreter = regopy.Interpreter()
    interpreter.add_module("policy.rego", (case / "policy.rego").read_text(encoding="utf-8"))
    interpreter.set_input_term(artifact.read_text(encoding="utf-8"))
    output = interpreter.query("data.main.deny")
    if not output.ok():
        print(f"rego-cpp: {output}", file=sys.stderr)
        return 1
    # The output is {"expressions": [DENY]} as JSON text.
    (deny,) = json.loads(str(output))["expressions"]
    out.write_text(json.dumps(deny), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
