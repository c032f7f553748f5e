"""Writing command output: stdout, or files written whole (atomically) or not at all."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from compliancegate.errors import UsageError


def use_color(stream_is_tty: bool) -> bool:
    """Colour only on a terminal and never when NO_COLOR is set (https://no-color.org)."""
    return stream_is_tty and not os.environ.get("NO_COLOR")


def check_target(path: Path) -> None:
    """Refuse, before any work is done, a report path that cannot be written as a file."""
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path``: atomically for a regular (or new) file, so a crash never
    leaves half a report; straight into a device, pipe or symlink target, which a rename
    would replace (``--output /dev/stdout`` must not turn into a file)."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        try:
            with path.open("w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def stdout_is_tty() -> bool:
    """Whether standard output is a terminal."""
    return sys.stdout.isatty()
