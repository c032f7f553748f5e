"""Entry point of the ``compliancegate`` console script and ``python -m compliancegate``.

``--version`` is answered before click or anything else is imported: the gate runs on every
deployment, and its start-up should cost little more than Python's own.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1 or 2, SPEC section 2)."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from compliancegate import __version__

        sys.stdout.write(f"compliancegate {__version__}\n")
        return 0
    from compliancegate.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
