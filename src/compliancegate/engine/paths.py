"""JMESPath expressions, compiled once and evaluated many times."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import jmespath.ast
import jmespath.exceptions
import jmespath.parser

from compliancegate.errors import CompliancegateError

# The stubs do not describe the parser's internals that the fix overrides.
_UpstreamParser: Any = jmespath.parser.Parser


class _Parser(_UpstreamParser):  # type: ignore[misc]
    """jmespath.py's parser with its object-wildcard projection fixed.

    jmespath.py 1.x parses the right-hand side of ``a.*`` with the binding power of ``.``,
    so ``a.*.b.c`` applies ``.c`` to the projected list and returns null instead of
    projecting (jmespath/jmespath.py#182, fix proposed in #373). In a compliance gate that is
    a silent pass, so the right-hand side is parsed with the wildcard's binding power, as the
    bare ``*`` already is.
    """

    # The base class caches parsed expressions in a class attribute; ours must not share it.
    _CACHE: ClassVar[dict[str, Any]] = {}

    def _token_led_dot(self, left: Any) -> Any:
        if self._current_token() != "star":
            return super()._token_led_dot(left)
        self._advance()
        right = self._parse_projection_rhs(self.BINDING_POWER["star"])
        return jmespath.ast.value_projection(left, right)


def field_chain(node: Any) -> tuple[str, ...] | None:
    """The keys of an expression that is only field lookups (``severity``, ``fix.available``,
    ``"pkg-name".version``), or None. Such an expression is most of what policies say, and
    needs no interpreter: see ``Path.search``."""
    kind = node.get("type")
    if kind == "field":
        return (node["value"],)
    if kind == "subexpression":
        keys: list[str] = []
        for child in node["children"]:
            sub = field_chain(child)
            if sub is None:
                return None
            keys.extend(sub)
        return tuple(keys)
    return None


@dataclass(frozen=True)
class Path:
    """A compiled JMESPath expression with its source text (for messages)."""

    expression: str
    compiled: jmespath.parser.ParsedResult = field(compare=False, repr=False)
    keys: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    """Set when the expression is only field lookups: evaluated as ``.get`` calls."""

    def search(self, data: Any) -> Any:
        """Evaluate on ``data``; a runtime JMESPath error (bad function argument) is raised
        as ``CompliancegateError`` so the policy ends in ``error``, never in ``pass``."""
        keys = self.keys
        if keys is not None:
            # Exactly jmespath's visit_field, without building an interpreter per call (40x
            # faster): ``value.get(key)``, and null for anything without ``get``.
            for key in keys:
                try:
                    data = data.get(key)
                except AttributeError:
                    return None
            return data
        try:
            return self.compiled.search(data)
        except jmespath.exceptions.JMESPathError as exc:
            raise CompliancegateError(f"JMESPath {self.expression!r} failed: {exc}") from None
        except (ArithmeticError, ValueError, TypeError) as exc:
            # Functions on hostile values: avg() of a 400-digit number overflows a float,
            # ceil() of Infinity, floor() of NaN, to_string() of an integer past Python's
            # 4,300-digit limit. The item is in error; the run goes on.
            raise CompliancegateError(
                f"JMESPath {self.expression!r} failed on this value: {type(exc).__name__}: {exc}"
            ) from None


def compile_path(expression: str) -> Path:
    """Compile ``expression``; raises ``CompliancegateError`` for bad syntax."""
    try:
        parsed = _Parser().parse(expression)
        return Path(expression, parsed, field_chain(parsed.parsed))
    except jmespath.exceptions.JMESPathError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CompliancegateError(
            f"bad JMESPath {expression!r}: {detail}",
            hint='see https://jmespath.org/specification.html; quote keys with dashes as "a-b"',
        ) from None
