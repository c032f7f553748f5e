"""The gate's own input files as the run read them: config, register, policies, waivers.

An evidence bundle carries "the register and policies as evaluated". Reading the files
again when the bundle is made would give what they hold then, not what the run judged (a
later commit, or a pull request racing the gate), so ``documents.read_text`` hands the very
bytes it parsed to whoever is capturing. Capturing is scoped with a context variable because
the loaders call ``read_text`` several layers down and have no reason to know about bundles.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class InputFile:
    """One input file of a run, with the bytes it was evaluated from."""

    role: str
    """``config``, ``register``, ``policies`` or ``waivers``."""
    path: str
    """As shown to users (relative to the working directory when inside it)."""
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of ``data``."""
        return hashlib.sha256(self.data).hexdigest()


_CAPTURE: contextvars.ContextVar[tuple[str, list[InputFile]] | None] = contextvars.ContextVar(
    "compliancegate_input_capture", default=None
)


@contextlib.contextmanager
def capture_inputs(role: str) -> Iterator[list[InputFile]]:
    """Collect every file ``read_text`` reads inside the block, as ``role``."""
    files: list[InputFile] = []
    token = _CAPTURE.set((role, files))
    try:
        yield files
    finally:
        _CAPTURE.reset(token)


def note_read(path: str, data: bytes) -> None:
    """Called by ``read_text`` with the bytes it is about to parse."""
    capture = _CAPTURE.get()
    if capture is not None:
        role, files = capture
        files.append(InputFile(role, path, data))
