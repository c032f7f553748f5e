"""JMESPath expressions, compiled once and evaluated many times."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.parser

from compliancegate.errors import CompliancegateError


@dataclass(frozen=True)
class Path:
    """A compiled JMESPath expression with its source text (for messages)."""

    expression: str
    compiled: jmespath.parser.ParsedResult = field(compare=False, repr=False)

    def search(self, data: Any) -> Any:
        """Evaluate on ``data``; a runtime JMESPath error (bad function argument) is raised
        as ``CompliancegateError`` so the policy ends in ``error``, never in ``pass``."""
        try:
            return self.compiled.search(data)
        except jmespath.exceptions.JMESPathError as exc:
            raise CompliancegateError(f"JMESPath {self.expression!r} failed: {exc}") from None


def compile_path(expression: str) -> Path:
    """Compile ``expression``; raises ``CompliancegateError`` for bad syntax."""
    try:
        return Path(expression, jmespath.compile(expression))
    except jmespath.exceptions.JMESPathError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CompliancegateError(
            f"bad JMESPath {expression!r}: {detail}",
            hint='see https://jmespath.org/specification.html; quote keys with dashes as "a-b"',
        ) from None
