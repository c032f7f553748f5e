"""Finding the tool's own YAML files under the paths a user names."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from compliancegate.errors import LoadError
from compliancegate.loading.documents import display

YAML_SUFFIXES = (".yaml", ".yml")


def yaml_files(paths: Iterable[Path], *, what: str) -> list[Path]:
    """Files named directly, plus ``*.yaml``/``*.yml`` below directories, in a stable order.

    A path that does not exist is a ``LoadError``: a gate pointed at a missing policy folder
    must not run with no policies.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            below = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in YAML_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            found.extend(below)
        elif path.exists():
            found.append(path)
        else:
            raise LoadError(f"no such {what} file or directory", file=display(path))
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.resolve(), None)
    return list(unique)
