"""``--ledger LOCATION``: a folder, or ``git:URL#BRANCH``; which store serves it.

A value that looks like a URL of a store this version does not know (``postgresql://``,
``s3://``, ``https://``) is refused rather than taken for a folder named ``postgresql:``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

from compliancegate.ledger.clocks import Now, system_now
from compliancegate.ledger.interface import LedgerError, LedgerStore

DEFAULT_LOCATION = ".compliancegate/ledger"
"""The ledger of a run that names none: a folder in the working directory."""

SUPPORTED_FORMS = (
    "a folder (e.g. .compliancegate/ledger or /var/lib/compliancegate/ledger), "
    "git:URL#BRANCH (e.g. git:https://git.example.com/org/ledger.git#main), "
    "or git:.#BRANCH (a branch of the repository being gated)"
)

# RFC 3986 scheme followed by "//", or a scheme alone before the end ("s3:"): not a folder.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(//|$)")
_LATER = {"postgresql": "issue 13", "postgres": "issue 13"}


def is_git(location: str) -> bool:
    """Whether ``location`` names a git ledger."""
    return location.startswith("git:")


def scheme_problem(location: str) -> str | None:
    """Why ``location`` is not a ledger location this version knows, or None.

    Only the form is judged here (no file system, no network).
    """
    if not location.strip():
        return "the ledger location is empty; use " + SUPPORTED_FORMS
    if is_git(location):
        return None
    match = _SCHEME.match(location)
    if match is None:
        return None
    scheme = match.group(1).lower()
    if scheme in _LATER:
        return (
            f"{scheme}:// ledgers are not supported by this version of compliancegate "
            "(planned); use " + SUPPORTED_FORMS
        )
    if scheme == "file":
        path = location[len("file://") :] or "/"
        return f"{location!r} is a URL; a ledger folder is written as its path, e.g. {path}"
    if scheme in {"http", "https", "ssh", "git"} or scheme.startswith("git+"):
        return (
            f"{location!r} is a URL, not a ledger location; a git repository is written "
            f"git:URL#BRANCH, e.g. git:{location.removeprefix('git+')}#compliance-ledger"
        )
    return f"{scheme}:// is not a ledger store compliancegate knows; use " + SUPPORTED_FORMS


def retry_seconds(environ: Mapping[str, str]) -> float:
    """The git store's retry budget: ``COMPLIANCEGATE_LEDGER_RETRY_SECONDS`` or the default."""
    from compliancegate.ledger.gitstore import DEFAULT_RETRY_SECONDS, RETRY_VARIABLE

    text = environ.get(RETRY_VARIABLE, "").strip()
    if not text:
        return DEFAULT_RETRY_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 86400):
        raise LedgerError(
            f"{RETRY_VARIABLE}={text!r} is not a number of seconds between 0 and 86400",
            hint=f"unset it for the default ({DEFAULT_RETRY_SECONDS:g} s)",
        )
    return value


def check_location(
    location: str, *, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> None:
    """Refuse a location before anything is evaluated or recorded: an unknown store, a
    malformed git location, a bad retry budget, or a ledger folder the gated repository
    controls (``placement.check_folder``). ``LedgerError`` says why and what to write."""
    problem = scheme_problem(location)
    if problem is not None:
        raise LedgerError(problem, subject=f"--ledger {location}")
    environ = os.environ if environ is None else environ
    from compliancegate.ledger.placement import check_folder, checked_state_root

    base = cwd or Path.cwd()
    checked_state_root(base, environ)
    if is_git(location):
        from compliancegate.ledger.gitstore import parse_git_location, pinned_head

        parse_git_location(location)
        retry_seconds(environ)
        pinned_head(environ)
        return
    folder = Path(location)
    check_folder(folder if folder.is_absolute() else base / folder, base, environ)


def open_store(
    location: str,
    *,
    cwd: Path | None = None,
    now: Now = system_now,
    environ: Mapping[str, str] | None = None,
) -> LedgerStore:
    """The store for ``location``; relative folders are relative to ``cwd``.

    Raises ``LedgerError`` for a location ``check_location`` refuses, ``git:.`` outside a
    repository, or a state directory inside the gated tree.
    """
    base = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    check_location(location, cwd=base, environ=environ)
    if is_git(location):
        from compliancegate.ledger.gitstore import GitStore, parse_git_location

        parsed = parse_git_location(location)
        return GitStore(parsed, cwd=base, environ=environ, retry_seconds=retry_seconds(environ))
    from compliancegate.ledger.filestore import FileStore

    folder = Path(location)
    return FileStore(
        folder if folder.is_absolute() else base / folder,
        location,
        now=now,
        cwd=base,
        environ=environ,
    )


def configured_location(flag: str | None, config: Path | None = None) -> str:
    """The ledger a command uses: ``--ledger``, else the config's ``ledger``, else
    ``DEFAULT_LOCATION``."""
    if flag is not None:
        return flag
    from compliancegate.loading.config import find_config

    return find_config(config).ledger or DEFAULT_LOCATION
