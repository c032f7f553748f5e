"""``--policies`` / ``--register`` values: a path, or a ``builtin:`` library of the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from compliancegate.loading.builtin import Kind


class Library(click.Path):
    """A policy or register path; ``builtin:starter`` (or ``builtin:starter/FILE``) names the
    library shipped in the package, resolved here so the loaders only see paths."""

    def __init__(self, kind: Kind) -> None:
        super().__init__(path_type=Path)
        self.kind: Kind = kind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from compliancegate.errors import LoadError
        from compliancegate.loading.builtin import is_builtin, resolve_builtin

        if isinstance(value, str) and is_builtin(value):
            try:
                return resolve_builtin(value, self.kind)
            except LoadError as exc:
                self.fail(f"{exc.message}" + (f" ({exc.hint})" if exc.hint else ""), param, ctx)
        return super().convert(value, param, ctx)


POLICIES = Library("policies")
REGISTERS = Library("registers")
