"""``--ledger LOCATION``: a folder, or ``git:URL#BRANCH``; which store serves it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from compliancegate.ledger.clocks import Now, system_now
from compliancegate.ledger.interface import LedgerStore

DEFAULT_LOCATION = ".compliancegate/ledger"
"""The ledger of a run that names none: a folder in the working directory. It is also the
local folder of a git ledger (its cache and pending records)."""


def is_git(location: str) -> bool:
    """Whether ``location`` names a git ledger."""
    return location.startswith("git:")


def open_store(
    location: str,
    *,
    cwd: Path | None = None,
    now: Now = system_now,
    environ: Mapping[str, str] | None = None,
) -> LedgerStore:
    """The store for ``location``; relative folders are relative to ``cwd``.

    Raises ``LedgerError`` for a malformed git location, or ``git:.`` outside a repository.
    """
    base = cwd or Path.cwd()
    if is_git(location):
        from compliancegate.ledger.gitstore import GitStore, parse_git_location

        parsed = parse_git_location(location)
        return GitStore(parsed, base / DEFAULT_LOCATION, cwd=base, now=now, environ=environ)
    from compliancegate.ledger.filestore import FileStore

    folder = Path(location)
    return FileStore(folder if folder.is_absolute() else base / folder, location, now=now)


def configured_location(flag: str | None, config: Path | None = None) -> str:
    """The ledger a command uses: ``--ledger``, else the config's ``ledger``, else
    ``DEFAULT_LOCATION``."""
    if flag:
        return flag
    from compliancegate.loading.config import find_config

    return find_config(config).ledger or DEFAULT_LOCATION
