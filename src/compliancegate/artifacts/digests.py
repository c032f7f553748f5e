"""SHA-256 of files an artifact points at (an evidence sidecar's file, a provenance subject),
read in chunks under the artifact size limit."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

CHUNK = 1024 * 1024


class TooLarge(Exception):
    """The file is larger than the limit it was read under."""


class NotRegular(OSError):
    """A FIFO, a device or a socket: reading one could block forever or never end."""


def sha256_file(path: Path, limit: int) -> str:
    """The hex SHA-256 of ``path``; raises ``TooLarge`` past ``limit`` bytes, ``OSError``
    (``FileNotFoundError``, ``IsADirectoryError``, ``NotRegular``...) when it cannot be
    read. Only a regular file is read."""
    if path.is_dir():
        raise IsADirectoryError(path)
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise NotRegular(f"{path} is not a regular file")
    digest = hashlib.sha256()
    read = 0
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since the stat
            raise NotRegular(f"{path} is not a regular file")
        while chunk := handle.read(CHUNK):
            read += len(chunk)
            if read > limit:
                raise TooLarge(path)
            digest.update(chunk)
    return digest.hexdigest()
