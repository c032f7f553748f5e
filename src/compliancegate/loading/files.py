"""Finding the tool's own YAML files under the paths a user names.

Below a named folder, a file is read when its suffix is ``.yaml`` or ``.yml`` in any case
(``.YAML``, ``.Yml``: a file written on a case-insensitive system must not vanish from the
gate). Hidden files and files in hidden folders (a name starting with ``.``) are not read,
and the loaders report each one they leave out (a renamed ``.critical.yaml`` would otherwise
turn a policy off in silence). A file named directly is always read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from compliancegate.errors import LoadError
from compliancegate.loading.documents import display

YAML_SUFFIXES = (".yaml", ".yml")
"""Compared in lower case."""


@dataclass(frozen=True)
class FoundFiles:
    """The YAML files to read under some paths, and the hidden ones left out."""

    files: tuple[Path, ...]
    """Resolved, without duplicates, in a stable order."""
    hidden: tuple[Path, ...] = ()
    """YAML files below a named folder that are hidden or in a hidden folder: not read."""


def is_yaml_name(path: Path) -> bool:
    """Whether ``path`` is named like a YAML file (``.yaml``/``.yml``, any case)."""
    return path.suffix.lower() in YAML_SUFFIXES


def find_yaml_files(paths: Iterable[Path], *, what: str) -> FoundFiles:
    """Files named directly, plus YAML files below folders, in a stable order; hidden ones
    below folders are listed apart.

    A path that does not exist is a ``LoadError``: a gate pointed at a missing policy folder
    must not run with no policies.
    """
    found: list[Path] = []
    hidden: list[Path] = []
    for path in paths:
        if path.is_dir():
            for below in sorted(p for p in path.rglob("*") if is_yaml_name(p) and p.is_file()):
                parts = below.relative_to(path).parts
                if any(part.startswith(".") for part in parts):
                    hidden.append(below)
                else:
                    found.append(below)
        elif path.exists():
            found.append(path)
        else:
            raise LoadError(f"no such {what} file or directory", file=display(path))
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.resolve(), None)
    return FoundFiles(tuple(unique), tuple(hidden))


def yaml_files(paths: Iterable[Path], *, what: str) -> list[Path]:
    """The files :func:`find_yaml_files` reads (hidden ones left out)."""
    return list(find_yaml_files(paths, what=what).files)


def hidden_message(path: Path, what: str) -> str:
    """What the user is told about a hidden YAML file that was not read."""
    return (
        f"{display(path)} was not read: hidden {what} files and files in hidden folders are "
        "skipped (rename it without the leading dot to use it, or move it elsewhere)"
    )


def nothing_found(named: Iterable[Path], found: FoundFiles, *, kind: str, what: str) -> LoadError:
    """The error for paths that hold no document of ``kind``: a gate with nothing to read
    says so rather than "ok"."""
    where = ", ".join(display(p) for p in named) or "(no path)"
    return LoadError(
        f"no {what} found under {where}"
        + (f" ({len(found.files)} YAML file(s) read)" if found.files else ""),
        hint=f"{what} are kind: {kind} documents in .yaml/.yml files; check the path"
        + (f"; {len(found.hidden)} hidden file(s) were skipped" if found.hidden else ""),
    )
