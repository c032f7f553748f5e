"""Operations kept locally until the store has them: the store was unreachable, or locked.

The queue lives in the ledger's state folder, outside the gated checkout
(``placement.ledger_state``), and only what this runner queued is ever stored:

- each ``add`` writes one **batch** file, named so that batches sort in the order they
  happened, written whole (temporary file and rename), so a crash leaves the batch or nothing;
- every batch carries an HMAC-SHA256 over its operations and the ledger it is for, with a
  random key created beside the queue (``queue.key``, mode 0600, never in the repository);
- a batch whose MAC is missing or wrong, that names another ledger, or that cannot be read
  is **refused**: never stored, moved into ``refused/`` and reported (``ledger verify`` fails
  while any is there).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliancegate.ledger.interface import ChainError, LedgerError
from compliancegate.ledger.operations import Operation, from_json, to_json
from compliancegate.ledger.records import canonical

PENDING_DIR = "pending"
REFUSED_DIR = "refused"
KEY_FILE = "queue.key"
KEY_BYTES = 32
_VERSION = 2
_DOMAIN = b"compliancegate pending batch v2\n"

STRAY_REASON = (
    "a queued operation found inside the repository being gated (or where versions before "
    "the authenticated queue kept it), not in this runner's queue: never recorded"
)


@dataclass(frozen=True)
class PendingOperation:
    """One queued operation and the batch file that holds it."""

    path: Path
    operation: Operation


@dataclass(frozen=True)
class QueueContents:
    """What the queue holds: authenticated operations in order, and what was refused."""

    operations: tuple[PendingOperation, ...]
    refused: tuple[str, ...]
    """One description per refused batch file: where it is, and why."""


class PendingQueue:
    """The queue of one ledger, in its state folder (see the module docstring)."""

    def __init__(self, state: Path, ledger: str) -> None:
        """The queue in ``state``; ``ledger`` identifies the ledger its batches are for."""
        self.state = state
        self.folder = state / PENDING_DIR
        self.refused_folder = state / REFUSED_DIR
        self.key_file = state / KEY_FILE
        self._ledger = ledger

    def prepare(self) -> None:
        """Create the state folder this queue lives in (``LedgerError`` when it cannot)."""
        from compliancegate.ledger.placement import prepare_state

        prepare_state(self.state, self._ledger)

    # ------------------------------------------------------------------- the key

    def mac_key(self, create: bool) -> bytes | None:
        """The queue key, which also signs the ledger's derived-state cache (``derived``):
        created when ``create`` and missing, else None when missing; ``LedgerError`` when it
        cannot be trusted."""
        return self._key(create=create)

    def _key(self, *, create: bool) -> bytes | None:
        """The queue key; created when ``create`` and missing, else None when missing."""
        try:
            info = os.lstat(self.key_file)
        except FileNotFoundError:
            if not create:
                return None
            self._create_key()
            info = os.lstat(self.key_file)
        except OSError as exc:
            raise self._key_error(f"cannot read it: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise self._key_error("it is not a regular file (a symlink?)")
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            raise self._key_error("it belongs to another user")
        if info.st_mode & 0o077:
            raise self._key_error(f"other users may read or write it (mode {info.st_mode:o})")
        try:
            fd = os.open(self.key_file, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                key = handle.read(KEY_BYTES + 1)
        except OSError as exc:
            raise self._key_error(f"cannot read it: {exc.strerror or exc}") from None
        if len(key) != KEY_BYTES:
            raise self._key_error(f"it does not hold a {KEY_BYTES}-byte key")
        return key

    def _create_key(self) -> None:
        self.prepare()
        fd, tmp = tempfile.mkstemp(prefix=".key-", dir=self.key_file.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            # link, not rename: of two processes creating the key at once, one wins and the
            # other uses the winner's key rather than replacing it.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, self.key_file)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _key_error(self, why: str) -> LedgerError:
        return LedgerError(
            f"the key that authenticates the pending queue cannot be trusted: {why}",
            file=str(self.key_file),
            hint="delete it (operations queued with it will then be refused) and make sure "
            "the state directory belongs to the runner's user alone",
        )

    def _mac(self, key: bytes, operations: list[Any]) -> str:
        body = canonical({"v": _VERSION, "ledger": self._ledger, "ops": operations})
        return hmac.new(key, _DOMAIN + body, hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------- the queue

    def add(self, operations: Sequence[Operation]) -> list[Path]:
        """Queue ``operations`` as one batch after any already queued; returns its file."""
        if not operations:
            return []
        self.prepare()
        try:
            key = self._key(create=True) or b""
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            ops = [to_json(op) for op in operations]
            data = canonical(
                {"v": _VERSION, "ledger": self._ledger, "ops": ops, "mac": self._mac(key, ops)}
            )
            name = f"{time.time_ns():020d}-{operations[0].op}.json"
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
        except OSError as exc:
            raise LedgerError(
                f"cannot keep the records pending: {exc.strerror or exc}", file=str(self.folder)
            ) from None
        return [self.folder / name]

    def _files(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.glob("*.json") if not p.name.startswith("."))
        except OSError:
            return []

    def load(self, *, set_aside: bool = False) -> QueueContents:
        """The authenticated operations, oldest first, and the refused batches.

        With ``set_aside``, refused batches are moved into ``refused/`` so that they are
        reported once and never read again.
        """
        files = self._files()
        if not files:
            return QueueContents((), ())
        key = self._key(create=False)
        operations: list[PendingOperation] = []
        refused: list[str] = []
        for path in files:
            why = None
            try:
                batch = self._read(path, key)
            except (ValueError, RecursionError) as exc:
                why = str(exc) or type(exc).__name__
            except OSError as exc:
                why = f"cannot read it: {exc.strerror or exc}"
            if why is None:
                operations += [PendingOperation(path, op) for op in batch]
                continue
            where = str(path)
            if set_aside:
                where = self._set_aside(path)
            refused.append(f"{where}: {why}")
        return QueueContents(tuple(operations), tuple(refused))

    def _read(self, path: Path, key: bytes | None) -> list[Operation]:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            raise ValueError("it is not a batch this version queued (no version 2 MAC)")
        ops, mac = data.get("ops"), data.get("mac")
        if not isinstance(ops, list) or not isinstance(mac, str):
            raise ValueError("it has no operations or no MAC")
        if data.get("ledger") != self._ledger:
            raise ValueError(f"it was queued for another ledger ({data.get('ledger')!r})")
        if key is None:
            raise ValueError(f"there is no key to authenticate it ({self.key_file} is missing)")
        if not hmac.compare_digest(self._mac(key, ops), mac):
            raise ValueError("its MAC does not match: this runner did not queue it as it is")
        return [from_json(op) for op in ops]

    def _set_aside(self, path: Path) -> str:
        try:
            self.refused_folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = self.refused_folder / path.name
            os.replace(path, target)
            return str(target)
        except OSError:
            return str(path)

    def refused_files(self) -> list[Path]:
        """Batches refused earlier and set aside (``ledger verify`` reports them)."""
        try:
            return sorted(self.refused_folder.glob("*.json"))
        except OSError:
            return []

    def count(self) -> int:
        """How many authenticated operations are queued."""
        try:
            return len(self.load().operations)
        except LedgerError:
            return len(self._files())

    def remove(self, paths: Iterable[Path]) -> None:
        """Forget batches the store now has."""
        for path in set(paths):
            path.unlink(missing_ok=True)


def queue_problem(queue: PendingQueue, stray: Sequence[str], records: int) -> ChainError | None:
    """What ``ledger verify`` fails on in the queue: batches refused now or earlier, and
    queued operations found where no queue may be (``stray``); None when there are none."""
    try:
        contents = queue.load()
    except LedgerError as exc:
        return ChainError(exc.message, seq=0, file=exc.file, hint=exc.hint)
    earlier = [
        f"{path}: refused earlier (not authenticated by this runner's queue key)"
        for path in queue.refused_files()
    ]
    problems = [*contents.refused, *earlier, *stray]
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ChainError(
        f"{len(problems)} queued batch(es) of operations are not this runner's and are never "
        f"recorded; {records} record(s) of the ledger itself verified. First: {problems[0]}{more}",
        seq=0,
        hint="look at what they say (someone may have tried to forge ledger records), "
        "then delete them",
    )
