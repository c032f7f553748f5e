"""Writing command output: stdout, or files written whole (atomically) or not at all.

Report paths are often inside the checkout being gated, which whoever opened the change
controls: a symlink planted at ``reports/gate.json`` (or at ``reports/``) would make the gate
overwrite a file elsewhere. So a report is written through a device, a pipe or a socket (the
system's ``/dev/stdout``, a FIFO), but never through a symlink to a regular file, and never
below a symlinked folder of the working directory; and two reports never share a file.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from compliancegate.errors import UsageError

_SYSTEM_FOLDERS = ("/dev/", "/proc/")
"""Paths the system provides (``/dev/stdout``, ``/proc/self/fd/1``): never planted by a
change, and often symlinks by design, so they are written through as given."""

_REFUSED_HINT = (
    "a report is never written through a symlink to a file or below a symlinked folder (a "
    "change can plant one to overwrite a file elsewhere): remove the link or pick another path"
)


def use_color(stream_is_tty: bool) -> bool:
    """Colour only on a terminal and never when NO_COLOR is set (https://no-color.org)."""
    return stream_is_tty and not os.environ.get("NO_COLOR")


def _system_path(path: Path) -> bool:
    return os.path.abspath(path).startswith(_SYSTEM_FOLDERS)


def _special(mode: int) -> bool:
    """A device, pipe or socket: written through, never replaced by a file."""
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _symlinked_folder(path: Path) -> Path | None:
    """The first folder of ``path`` below the working directory that is a symlink.

    Every prefix of the path as written is looked at (``link/../x`` goes through ``link``),
    but only those that lie below the working directory: the folders above it and outside it
    (``$RUNNER_TEMP``, macOS's ``/tmp``) are the runner's.
    """
    cwd = os.path.abspath(os.curdir)
    parts = path.parts
    for end in range(1, len(parts)):
        folder = Path(*parts[:end])
        if folder.name in ("", ".", ".."):
            continue
        if not os.path.abspath(folder).startswith(cwd + os.sep):
            continue
        if folder.is_symlink():
            return folder
    return None


def _refuse_links(path: Path) -> bool:
    """Raise ``UsageError`` for a path that would write through a symlink to something that is
    not a device or pipe; True when ``path`` must be written through (not replaced)."""
    if _system_path(path):
        return True
    folder = _symlinked_folder(path)
    if folder is not None:
        raise UsageError(
            f"cannot write {path}: {folder} is a symlink to {os.readlink(folder)}",
            hint=_REFUSED_HINT,
        )
    if path.is_symlink():
        target = os.readlink(path)
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = 0
        if not _special(mode):
            raise UsageError(
                f"cannot write {path}: it is a symlink to {target}", hint=_REFUSED_HINT
            )
        return True
    try:
        return _special(path.lstat().st_mode)
    except OSError:
        return False


def check_target(path: Path) -> None:
    """Refuse, before any work is done, a report path that cannot be written as a file."""
    if _refuse_links(path):
        return
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def same_file_key(path: Path) -> object:
    """What makes two spellings the same file: device and inode when it exists (hard links,
    ``..``, symlinked devices), else the absolute, normalized path."""
    try:
        found = path.stat()
    except OSError:
        return os.path.normcase(os.path.abspath(path))
    return (found.st_dev, found.st_ino)


def _stdout_identity() -> object | None:
    try:
        found = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return None  # not a real stream (a test runner's buffer)
    return (found.st_dev, found.st_ino)


def check_targets(targets: Sequence[tuple[str, Path]], *, to_stdout: bool) -> None:
    """Check every ``(label, path)`` report target, and refuse two that name one file (or
    one that names standard output, when ``to_stdout``). ``/dev/null`` may repeat."""
    try:
        null = os.stat(os.devnull)
        discard: object = (null.st_dev, null.st_ino)
    except OSError:
        discard = None
    seen: dict[object, str] = {}
    if to_stdout:
        stdout = _stdout_identity()
        if stdout is not None and stdout != discard:
            seen[stdout] = "standard output (no --output)"
    for label, path in targets:
        check_target(path)
        key = same_file_key(path)
        if key == discard:
            continue
        if key in seen:
            raise UsageError(
                f"{label} and {seen[key]} write to the same file ({path})",
                hint="give each report its own file",
            )
        seen[key] = label


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path``: atomically for a regular (or new) file, so a crash never
    leaves half a report; straight into a device or pipe, which a rename would replace
    (``--output /dev/stdout`` must not turn into a file). The link rules of
    :func:`check_target` are checked again, as the tree may have changed during the run."""
    if _refuse_links(path):
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
            # A rename replaces a symlink planted meanwhile instead of following it.
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def stdout_is_tty() -> bool:
    """Whether standard output is a terminal."""
    return sys.stdout.isatty()
