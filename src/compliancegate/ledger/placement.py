"""Where a ledger's files may live: nothing the gated checkout holds becomes a record.

The repository being gated is written by whoever opened the pull request. So:

- a ledger's **local state** (the queue of operations not yet stored, the git store's cache
  and the key that authenticates the queue) lives in a per-user state directory outside it:
  ``$COMPLIANCEGATE_STATE_DIR``, else ``$XDG_STATE_HOME/compliancegate``, else
  ``~/.local/state/compliancegate``; a state directory inside the gated tree is refused;
- a **file ledger** folder inside the gated tree is refused when git tracks anything under
  it (the pull request would be writing the ledger) or when a symlink leads to it or sits in
  it (the pull request would choose where records are read from and written to);
- ``pending/`` folders inside the gated tree (where older versions kept the queue) are
  reported and never stored.

The gated tree is the git work tree that holds the working directory, else the working
directory itself (for the state directory rule: only a git work tree).
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from compliancegate.ledger.interface import LedgerError

STATE_VARIABLE = "COMPLIANCEGATE_STATE_DIR"
"""Overrides the state directory (on a hosted runner, e.g. ``$RUNNER_TEMP/compliancegate``)."""

LEDGERS_DIR = "ledgers"
IDENTITY_FILE = "location.txt"
_LEDGER_ENTRIES = (
    "records.jsonl",
    "head.json",
    "lock",
    "head.json.tmp",
    "quarantine",
    "heads.jsonl",
)
_OUTSIDE_HINT = (
    f"set {STATE_VARIABLE} to a folder outside the repository (on a hosted runner, "
    "$RUNNER_TEMP/compliancegate)"
)


def state_root(environ: Mapping[str, str]) -> Path:
    """The per-user state directory (not created here)."""
    explicit = environ.get(STATE_VARIABLE, "").strip()
    if explicit:
        return Path(explicit).expanduser().absolute()
    xdg = environ.get("XDG_STATE_HOME", "").strip()
    # The XDG spec says a relative XDG_STATE_HOME is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "compliancegate"
    home = environ.get("HOME", "").strip() or os.path.expanduser("~")
    return Path(home) / ".local" / "state" / "compliancegate"


def work_tree(cwd: Path) -> Path | None:
    """The top of the git work tree holding ``cwd``, or None outside a repository."""
    start = cwd.absolute()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def gated_tree(cwd: Path) -> Path:
    """The top of the git work tree holding ``cwd``, else ``cwd``."""
    return work_tree(cwd) or cwd.absolute()


def is_inside(path: Path, tree: Path) -> bool:
    """Whether ``path`` is ``tree`` or under it, as written or once symlinks are resolved."""
    roots = {tree.absolute(), tree.resolve()}
    candidates = {Path(os.path.abspath(path)), path.resolve()}
    return any(c == r or r in c.parents for c in candidates for r in roots)


def checked_state_root(cwd: Path, environ: Mapping[str, str]) -> Path:
    """``state_root``, refused (``LedgerError``) when it is inside the gated repository.

    Outside a repository there is no checkout a pull request wrote; and a working directory
    of ``/`` (common in containers) holds every state directory.
    """
    root = state_root(environ)
    tree = work_tree(cwd)
    if tree is not None and is_inside(root, tree):
        raise LedgerError(
            "the ledger's state directory (its queue and cache) is inside the repository "
            "being gated, which the pull request controls",
            file=str(root),
            hint=_OUTSIDE_HINT,
        )
    return root


def ledger_state(identity: str, cwd: Path, environ: Mapping[str, str]) -> Path:
    """The state folder of the ledger named by ``identity`` (created by its first use).

    ``LedgerError`` when the state directory is inside the gated tree.
    """
    root = checked_state_root(cwd, environ)
    # surrogateescape: a path with bytes that are not UTF-8 (which Python carries as lone
    # surrogates) names its folder by those bytes; any other identity hashes as plain UTF-8.
    digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()
    return root / LEDGERS_DIR / digest[:16]


def prepare_state(folder: Path, identity: str) -> None:
    """Create a ledger's state folder (mode 0700), labelled with the ledger it serves."""
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # For people looking at the state directory: which ledger this folder serves.
        (folder / IDENTITY_FILE).write_text(
            identity + "\n", encoding="utf-8", errors="surrogateescape"
        )
    except OSError as exc:
        raise LedgerError(
            f"cannot create the ledger's state directory: {exc.strerror or exc}",
            file=str(folder),
            hint=f"set {STATE_VARIABLE} to a writable folder outside the repository",
        ) from None


def check_folder(folder: Path, cwd: Path, environ: Mapping[str, str]) -> None:
    """Refuse a file ledger folder the gated repository controls (see the module docstring).

    A folder outside the gated tree, or one that does not exist yet, is always accepted.
    """
    tree = gated_tree(cwd)
    written = Path(os.path.abspath(folder))
    if not is_inside(written, tree):
        return
    # Every component below the tree's top, and the ledger's own files, must be real.
    top = tree.absolute()
    parts = written.relative_to(top).parts if top in (written, *written.parents) else ()
    current = top
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise LedgerError(
                "the ledger folder is reached through a symlink inside the repository being "
                "gated; the pull request could point it anywhere",
                file=str(current),
                hint="use a real folder, or a ledger outside the repository (git:.#BRANCH)",
            )
    if not written.is_dir():
        return
    for name in _LEDGER_ENTRIES:
        entry = written / name
        try:
            mode = entry.lstat().st_mode
        except OSError:
            continue
        if stat.S_ISLNK(mode):
            raise LedgerError(
                "a ledger file is a symlink; records are read from and written to real files only",
                file=str(entry),
                hint="remove the symlink (and restore the ledger from a trusted copy)",
            )
    tracked = _tracked(tree, written.resolve(), environ)
    if tracked:
        raise LedgerError(
            f"the ledger folder holds {len(tracked)} file(s) committed to the repository being "
            f"gated ({', '.join(tracked[:3])}): a ledger the pull request can write is not a "
            "record of what the gate did",
            file=str(folder),
            hint="remove them from the repository (git rm --cached) and keep the ledger "
            "outside it: git:.#compliance-ledger, or a folder outside the checkout",
        )


def _tracked(tree: Path, folder: Path, environ: Mapping[str, str]) -> list[str]:
    """The files under ``folder`` that git tracks in the repository at ``tree``."""
    if not (tree / ".git").exists():
        return []
    from compliancegate.ledger.gitcmd import clean_env

    # --recurse-submodules: a submodule checked out at (or above) the ledger folder is the
    # pull request's content as much as a tracked file is.
    command = ["git", "-C", str(tree), "ls-files", "-z", "--recurse-submodules", "--", str(folder)]
    try:
        done = subprocess.run(
            command, capture_output=True, env=clean_env(environ), timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LedgerError(
            f"cannot tell whether git tracks the ledger folder: {exc}", file=str(folder)
        ) from None
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LedgerError(
            "cannot tell whether git tracks the ledger folder: "
            + (error[0] if error else f"git exited with {done.returncode}"),
            file=str(folder),
            hint="make the repository readable to git (safe.directory), or keep the ledger "
            "outside the checkout",
        )
    return [name for name in done.stdout.decode("utf-8", "replace").split("\0") if name]


def stray_pending(tree: Path, *folders: Path) -> list[Path]:
    """Queued operations found where no queue may be: inside the gated tree (where older
    versions kept them, and where a pull request can put them), or in ``folders``."""
    ledger = tree / ".compliancegate" / "ledger"
    places = [ledger / "pending", *(ledger / "git").glob("*/pending"), *folders]
    found: list[Path] = []
    for place in places:
        try:
            found += sorted(p for p in place.glob("*.json") if not p.name.startswith("."))
        except OSError:
            continue
    return sorted(set(found))
