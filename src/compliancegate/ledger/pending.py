"""Operations kept locally until the store has them: the store was unreachable, or locked.

One JSON file per operation, named so that they sort in the order they happened; each is
written whole (temporary file and rename), so a crash leaves either the operation or nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from compliancegate.ledger.interface import LedgerError
from compliancegate.ledger.operations import Operation, from_json, to_json


@dataclass(frozen=True)
class PendingOperation:
    """One queued operation and its file."""

    path: Path
    operation: Operation


class PendingQueue:
    """The ``pending/`` folder of a ledger's local state."""

    def __init__(self, folder: Path) -> None:
        """Operations are kept in ``folder`` (created on the first ``add``)."""
        self.folder = folder

    def add(self, operations: Sequence[Operation]) -> list[Path]:
        """Queue ``operations`` after any already queued; returns their files."""
        paths = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for op in operations:
                name = f"{time.time_ns():020d}-{op.op}.json"
                data = json.dumps(to_json(op), sort_keys=True).encode("utf-8")
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)
                try:
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(data)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(tmp, self.folder / name)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
                paths.append(self.folder / name)
        except OSError as exc:
            raise LedgerError(
                f"cannot keep the records pending: {exc.strerror or exc}", file=str(self.folder)
            ) from None
        return paths

    def load(self) -> list[PendingOperation]:
        """The queued operations, oldest first."""
        if not self.folder.is_dir():
            return []
        queued = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                queued.append(PendingOperation(path, from_json(json.loads(path.read_bytes()))))
            except (OSError, ValueError) as exc:
                raise LedgerError(
                    f"unreadable pending operation: {exc}",
                    file=str(path),
                    hint="move the file away to let later runs be recorded",
                ) from None
        return queued

    def count(self) -> int:
        """How many operations are queued."""
        return len(list(self.folder.glob("*.json"))) if self.folder.is_dir() else 0

    def remove(self, paths: Iterable[Path]) -> None:
        """Forget operations the store now has."""
        for path in paths:
            path.unlink(missing_ok=True)
