"""An advisory file lock that serializes writers of one ledger on one machine (``flock``).

The lock belongs to the open file description, so it is released when the process dies,
even by ``kill -9``: a crashed writer never leaves the ledger locked.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from compliancegate.ledger.interface import LedgerError, LedgerUnavailable

DEFAULT_TIMEOUT = 60.0
"""Seconds a writer waits for another one before keeping its records pending."""


@contextmanager
def locked(path: Path, *, shared: bool = False, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive (or ``shared``) lock on ``path`` (created if missing).

    Raises ``LedgerUnavailable`` when it is not granted within ``timeout`` seconds.
    """
    if sys.platform == "win32":  # pragma: no cover - the gate runs on POSIX CI runners
        raise LedgerError("the file ledger needs POSIX file locks (flock)", file=str(path))
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LedgerError(f"cannot open the lock file: {exc.strerror}", file=str(path)) from None
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LedgerUnavailable(
                        f"another process has held the ledger lock for {timeout:.0f}s",
                        file=str(path),
                    ) from None
                # Polling with jitter rather than a blocking flock: the wait stays bounded,
                # and waiters do not wake in lockstep.
                time.sleep(random.uniform(0.002, 0.02))  # noqa: S311 - not cryptographic
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
