"""JMESPath expressions, compiled once and evaluated many times."""

from __future__ import annotations

from collections.abc import Callable
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


Getter = Callable[[Any], Any]


def field_getter(keys: tuple[str, ...]) -> Getter:
    """A function doing exactly what jmespath's ``visit_field`` does for each key in turn,
    ``value.get(key)`` and null for anything without ``get``, without building an interpreter
    per call (40x faster). Conditions inline the one-key case themselves."""
    if len(keys) == 1:
        (key,) = keys

        def get_one(data: Any) -> Any:
            try:
                return data.get(key)
            except AttributeError:
                return None

        return get_one

    def get_chain(data: Any) -> Any:
        for key in keys:
            try:
                data = data.get(key)
            except AttributeError:
                return None
        return data

    return get_chain


def node_getter(node: Any) -> Getter | None:
    """A plain function for an expression made of field lookups, sub-expressions, ``@`` and
    multi-selects (``[id, package]``, ``{id: id, pkg: package}``: how policies write ``key``),
    doing what jmespath's ``TreeInterpreter`` does for those nodes; None for anything else,
    which keeps the interpreter."""
    kind = node.get("type")
    if kind in ("field", "subexpression"):
        keys = field_chain(node)
        if keys is not None:
            return field_getter(keys)
    if kind == "current":
        return lambda data: data
    if kind == "subexpression":
        steps = [node_getter(child) for child in node["children"]]
        if any(step is None for step in steps):
            return None
        chain = tuple(step for step in steps if step is not None)

        def subexpression(data: Any) -> Any:
            for step in chain:
                data = step(data)
            return data

        return subexpression
    if kind == "multi_select_list":
        items = [node_getter(child) for child in node["children"]]
        if any(item is None for item in items):
            return None
        getters = tuple(item for item in items if item is not None)
        return lambda data: None if data is None else [get(data) for get in getters]
    if kind == "multi_select_dict":
        pairs = [(child["value"], node_getter(child["children"][0])) for child in node["children"]]
        if any(get is None for _name, get in pairs):
            return None
        named = tuple((name, get) for name, get in pairs if get is not None)
        return lambda data: None if data is None else {name: get(data) for name, get in named}
    return None


@dataclass(frozen=True)
class Path:
    """A compiled JMESPath expression with its source text (for messages)."""

    expression: str
    compiled: jmespath.parser.ParsedResult = field(compare=False, repr=False)
    keys: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    """Set when the expression is only field lookups: evaluated as ``.get`` calls."""
    search: Getter = field(init=False, compare=False, repr=False)
    """Evaluate on ``data``: plain lookups where ``node_getter`` can (the common case), else
    the interpreter. A runtime JMESPath error (bad function argument) is raised as
    ``CompliancegateError`` so the policy ends in ``error``, never in ``pass``. An attribute
    holding a function rather than a method: it runs once per leaf per item of every
    policy."""

    def __post_init__(self) -> None:
        getter = node_getter(self.compiled.parsed)
        object.__setattr__(self, "search", getter or self._interpret)

    @property
    def in_place(self) -> bool:
        """Whether the value found is the data's own (field lookups, ``@``), never a value
        made by the search (a projection, a multi-select, a function's result)."""
        return self.keys is not None or self.compiled.parsed.get("type") == "current"

    def _interpret(self, data: Any) -> Any:
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
