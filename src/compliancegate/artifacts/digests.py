"""SHA-256 of files an artifact points at (an evidence sidecar's file, a provenance subject),
read in chunks under the artifact size limit."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1024 * 1024


class TooLarge(Exception):
    """The file is larger than the limit it was read under."""


def sha256_file(path: Path, limit: int) -> str:
    """The hex SHA-256 of ``path``; raises ``TooLarge`` past ``limit`` bytes, ``OSError``
    (``FileNotFoundError``, ``IsADirectoryError``...) when it cannot be read."""
    if path.is_dir():
        raise IsADirectoryError(path)
    digest = hashlib.sha256()
    read = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            read += len(chunk)
            if read > limit:
                raise TooLarge(path)
            digest.update(chunk)
    return digest.hexdigest()
