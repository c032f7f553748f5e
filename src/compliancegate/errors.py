"""The error hierarchy: every failure the user can act on is a ``CompliancegateError``.

The CLI catches only this root class, prints ``str(error)`` and exits 2; anything else is a bug
and is reported as an internal error (with a traceback only under ``--debug``).
"""

from __future__ import annotations


class CompliancegateError(Exception):
    """A failure the user can fix: it names the file, the place and what to do."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        subject: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.subject = subject
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        subject = f"{self.subject}: " if self.subject else ""
        text = f"{where}{subject}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class LoadError(CompliancegateError):
    """A register, policy, waiver, config or policy-test file is unreadable or invalid."""


class ArtifactError(CompliancegateError):
    """An artifact is unreadable, malformed, too large, hostile or not what it claims."""


class EvaluationError(CompliancegateError):
    """A policy could not be evaluated on a document (for example a type mismatch)."""


class UsageError(CompliancegateError):
    """The command line asks for something contradictory or impossible."""
