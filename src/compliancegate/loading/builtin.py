"""``builtin:`` references: policy and register libraries shipped inside the package.

A config (or ``--policies`` / ``--register``) may name ``builtin:starter``: the starter
policies, or the starter register, of the installed compliancegate, so a project needs no
copy of them and pins them by pinning compliancegate's version (as Checkov's and Trivy's
built-in checks are). ``builtin:starter/FILE`` names one file of that library. In the
source tree, ``starter/`` links to the repository's ``policies/`` and ``registers/``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal

from compliancegate.errors import LoadError

PREFIX = "builtin:"
LIBRARIES = ("starter",)
"""The names a ``builtin:`` reference may use."""

Kind = Literal["policies", "registers"]


def is_builtin(value: str) -> bool:
    """Whether ``value`` is a ``builtin:`` reference rather than a path."""
    return value.startswith(PREFIX)


def library_root(name: str = "starter") -> Path:
    """The folder of a built-in library inside the installed package."""
    return Path(__file__).resolve().parent.parent / name


def resolve_builtin(value: str, kind: Kind) -> Path:
    """The folder or file ``value`` (``builtin:NAME`` or ``builtin:NAME/FILE``) names among
    the package's ``kind`` (``policies`` or ``registers``).

    Raises ``LoadError`` (naming the reference and what exists) for an unknown library, a
    file it does not have, or a path that tries to leave it.
    """
    body = value[len(PREFIX) :]
    name, _, inner = body.partition("/")
    if name not in LIBRARIES:
        raise LoadError(
            f"unknown built-in library {value!r}",
            hint="built-in libraries: " + ", ".join(PREFIX + n for n in LIBRARIES),
        )
    folder = library_root(name) / kind
    if not folder.is_dir():
        raise LoadError(
            f"{value}: the built-in {kind} are missing from this installation ({folder})",
            hint="reinstall compliancegate from a wheel or a complete source checkout",
        )
    if not inner:
        return folder
    relative = PurePosixPath(inner)
    if relative.is_absolute() or ".." in relative.parts or "\\" in inner:
        raise LoadError(
            f"{value!r}: a built-in file is named by its path inside the library",
            hint=f"e.g. {PREFIX}{name}/{_example(folder)}",
        )
    target = folder / relative
    if not target.is_file() and not target.is_dir():
        raise LoadError(
            f"{value!r}: the built-in {name} {kind} have no {inner!r}",
            hint="files: " + ", ".join(_top_level(folder)),
        )
    return target


def _top_level(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))


def _example(folder: Path) -> str:
    names = _top_level(folder)
    return names[0] if names else "FILE.yaml"


def copy_plan(kind: Kind, destination: Path) -> list[tuple[Path, Path]]:
    """(file of the starter ``kind``, where it goes under ``destination``) for every file,
    policy tests and their fixtures included."""
    source = library_root() / kind
    files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return [(p, destination / p.relative_to(source)) for p in files]


def copy_files(plan: list[tuple[Path, Path]], *, overwrite: bool) -> list[Path]:
    """Copy every file of ``plan`` and return the files written.

    Refuses (``LoadError``, nothing written) when a file to write exists and ``overwrite``
    is false; other files of the destination are left alone.
    """
    if not overwrite:
        existing = [t for _, t in plan if t.exists() or t.is_symlink()]
        if existing:
            raise LoadError(
                f"{len(existing)} of the starter files to copy exist already",
                file=str(existing[0]),
                hint="use --force to overwrite them, or init in another folder",
            )
    written = []
    for path, target in plan:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink():
                # Never write through a link into some other file.
                target.unlink()
            target.write_bytes(path.read_bytes())
        except OSError as exc:
            raise LoadError(
                f"cannot write a starter file: {exc.strerror or exc}",
                file=str(target),
                hint="init in a folder where policies/ and registers/ can be folders of files",
            ) from None
        written.append(target)
    return written
