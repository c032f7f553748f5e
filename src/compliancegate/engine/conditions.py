"""The condition language of SPEC section 4, compiled once per policy.

``compile_condition`` turns the YAML form into a tree of ``Condition`` objects whose paths,
regexes, durations and schemas are already compiled. A condition answers two questions:

* ``holds(data)``: is it true of ``data``? (used inside ``where``, ``assert``, ``any``...)
* ``failures(data)``: at the top of a rule, what are the violations? A ``for_each`` gives one
  failure per selected item that passes ``where`` and fails ``assert``; ``schema`` one per
  validation error; ``all`` the failures of each of its parts; anything else one failure for
  ``data`` as a whole when it does not hold.

Comparisons are strict about types, and a value that cannot be compared (a string where a
number is needed, a date that is not a date, NaN or Infinity, a version too long to order)
raises ``EvaluationError``: the policy ends in ``error``, which blocks like a failure, rather
than silently passing. NaN in particular compares false with everything, so ``not: {op:
gte}`` would pass on it; no comparison ever sees one. Numbers are compared exactly, never
through ``float``: a 400-digit integer is larger than any float, not an ``OverflowError``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path as FsPath
from typing import Any

from compliancegate.engine.durations import parse_duration, parse_instant
from compliancegate.engine.paths import Path, compile_path
from compliancegate.errors import CompliancegateError, EvaluationError

MAX_SCHEMA_ERRORS = 1000
MAX_VERSION_CHARS = 256
"""Longer versions are an evaluation error: real ones (Debian epochs, Go pseudo-versions) stay
far below, and ordering a 5,000-digit one costs time or a ValueError from ``int``."""
MAX_NUMBER_CHARS = 1000
"""A string longer than this is never read as a number."""

LEAF_OPS = (
    "equals",
    "not_equals",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "exists",
    "absent",
    "matches",
    "gt",
    "gte",
    "lt",
    "lte",
    "older_than",
    "newer_than",
    "version_gte",
    "version_lt",
)
COUNT_OPS = ("equals", "not_equals", "gt", "gte", "lt", "lte")


class ConditionSyntaxError(Exception):
    """A condition that cannot be compiled; ``where`` is its path inside the policy."""

    def __init__(self, message: str, where: Sequence[str | int], hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = tuple(where)
        self.hint = hint


@dataclass(frozen=True)
class EvalContext:
    """What a condition may depend on besides the data: the run's clock, and indexes built
    over the run's documents, shared by every policy of the run (``text_index``)."""

    now: dt.datetime
    indexes: dict[tuple[int, str], tuple[list[Any], TextIndex]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def text_index(self, items: list[Any], key: str) -> TextIndex:
        """``items`` indexed by the string in their ``key`` field, built on first use.

        Keyed by the list's identity, which stays unique because the entry holds the list:
        documents are parsed once per run and never change while policies are evaluated.
        """
        entry = self.indexes.get((id(items), key))
        if entry is None or entry[0] is not items:
            entry = (items, TextIndex.build(items, key))
            self.indexes[(id(items), key)] = entry
        return entry[1]


@dataclass(frozen=True)
class TextIndex:
    """The positions of a list's items by the string in one field, and the positions whose
    field is NaN or Infinity (an item error for any comparison): what a ``where`` of the
    form ``{path: FIELD, op: equals|in, value: TEXT(S)}`` can select. Every other item's
    ``where`` is false (a string equals only a string), so it is never looked at."""

    by_text: dict[str, list[int]]
    non_finite: list[int]

    @classmethod
    def build(cls, items: list[Any], key: str) -> TextIndex:
        by_text: dict[str, list[int]] = {}
        non_finite: list[int] = []
        for position, item in enumerate(items):
            try:
                value = item.get(key)
            except AttributeError:
                continue
            if value.__class__ is str:
                found = by_text.get(value)
                if found is None:
                    by_text[value] = [position]
                else:
                    found.append(position)
            elif isinstance(value, float) and not math.isfinite(value):
                non_finite.append(position)
        return cls(by_text, non_finite)

    def positions(self, texts: frozenset[str]) -> list[int]:
        """The positions, in order, of the items whose field is one of ``texts`` or is not
        finite."""
        runs = [self.by_text[text] for text in texts if text in self.by_text]
        if self.non_finite:
            runs.append(self.non_finite)
        if len(runs) == 1:
            return runs[0]
        return sorted(position for run in runs for position in run)


@dataclass(frozen=True, slots=True)
class Failure:
    """One violation found by a rule: the failing item and why."""

    item: Any
    detail: str
    subkey: str = ""
    """Distinguishes several failures of one item (e.g. the path of a schema error)."""
    error: bool = False
    """The item could not be evaluated (``detail`` says why): the policy ends in ``error``,
    while the other items are still evaluated and reported."""


Predicate = Callable[[Any, EvalContext], bool]
"""A compiled condition: a closure specialised to its path, operator and value."""


class Condition:
    """Base of the compiled condition tree.

    Every condition is compiled once into ``predicate``, a plain closure (its parts' closures
    composed, field paths read with ``dict.get``, each operator specialised to its value), so
    that evaluating an item costs a few calls rather than a walk of this tree.
    """

    predicate: Predicate

    def holds(self, data: Any, ctx: EvalContext) -> bool:
        """Whether the condition is true of ``data``."""
        return self.predicate(data, ctx)

    def failures(self, data: Any, ctx: EvalContext) -> list[Failure]:
        """The violations when used as a rule (see the module docstring)."""
        if self.predicate(data, ctx):
            return []
        return [Failure(data, self.describe())]

    def describe(self) -> str:
        """A short human form used in failure details."""
        raise NotImplementedError  # pragma: no cover - abstract


def _compiled(condition: Condition, predicate: Predicate) -> None:
    # Conditions are frozen dataclasses; their predicate is derived from their fields once.
    object.__setattr__(condition, "predicate", predicate)


# --------------------------------------------------------------------------- comparisons


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_non_finite(value: Any) -> bool:
    """NaN, Infinity or -Infinity (YAML ``.nan``/``.inf``, JSON ``NaN`` read leniently)."""
    return isinstance(value, float) and not math.isfinite(value)


def _has_non_finite(value: Any) -> bool:
    """Whether a policy's value holds NaN or Infinity anywhere (checked once, at compile)."""
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    return is_non_finite(value)


class NonFiniteError(EvaluationError):
    """A comparison met NaN or Infinity, which compare false with everything."""


def _refuse_non_finite(value: Any, path: str) -> None:
    if is_non_finite(value):
        raise NonFiniteError(
            f"{path} is {_show(value)}, which cannot be compared",
            hint="NaN and Infinity are not values a policy can compare; fix what produced "
            "the document, or test the value with {op: exists} only",
        )


def values_equal(actual: Any, expected: Any, *, strict: bool = False) -> bool:
    """Equality as policies mean it: ``true`` is not ``1``, ``[true]`` is not ``[1]``.

    ``strict`` (conditions): meeting NaN or Infinity raises ``NonFiniteError`` instead of
    answering; without it (waiver ``match``), NaN equals nothing, so it matches nothing.
    """
    if strict and (is_non_finite(actual) or is_non_finite(expected)):
        _refuse_non_finite(actual if is_non_finite(actual) else expected, "a compared value")
    if _is_number(actual) and _is_number(expected):  # never bool: see _is_number
        return bool(actual == expected)
    # The same strictness inside lists and mappings: [true] is not [1].
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(
            values_equal(actual[i], expected[i], strict=strict) for i in range(len(actual))
        )
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            values_equal(actual[k], expected[k], strict=strict) for k in actual
        )
    # Python says True == 1; a policy author comparing with `true` means the boolean, so
    # anything but two numbers must be of one type.
    return type(actual) is type(expected) and bool(actual == expected)


# A number written as a string: ASCII digits, an optional sign, fraction and exponent (what
# JSON and YAML write as a number, plus "+" and leading zeros), with surrounding spaces or
# tabs. Not "NaN", "Infinity", "1_000" or "١٢", all of which float() would accept.
_DECIMAL = re.compile(r"[ \t]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[ \t]*")

Number = int | float | Decimal


def _number(value: Any, path: str) -> Number:
    """``value`` as an exactly comparable number, or ``EvaluationError`` naming ``path``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value  # never NaN or Infinity: Leaf.holds refused them before any op ran
    match = (
        _DECIMAL.fullmatch(value)
        if isinstance(value, str) and len(value) <= MAX_NUMBER_CHARS
        else None
    )
    if match is not None:
        try:
            # Decimal, not float: "1e400" is larger than any float, not Infinity.
            return Decimal(match.group(1))
        except InvalidOperation:  # an exponent beyond what Decimal can hold
            raise EvaluationError(f"{path} is {_show(value)}, a number out of range") from None
    raise EvaluationError(
        f"{path} is {_show(value)}, not a number",
        hint="compare numbers with numbers (a string counts when it is a plain decimal "
        'number such as "7.5"); guard with {op: exists} or a where clause',
    )


def _exact(value: Number) -> Number:
    # A float means the decimal it was written as (0.1 read from a document or a policy is
    # one tenth), which is also its shortest repr.
    return Decimal(repr(value)) if isinstance(value, float) else value


ORDERS = {
    "equals": (0,),
    "not_equals": (-1, 1),
    "gt": (1,),
    "gte": (0, 1),
    "lt": (-1,),
    "lte": (-1, 0),
}
"""The results of ``compare_numbers`` for which each numeric op holds."""


def compare_numbers(left: Number, right: Number) -> int:
    """-1, 0 or 1, exactly: int and float compare exactly in Python, Decimal with each."""
    if isinstance(left, Decimal) or isinstance(right, Decimal):
        left, right = _exact(left), _exact(right)
    return int(left > right) - int(left < right)


def _show(value: Any) -> str:
    """A value as policy authors write it (JSON spelling: true, null, "text"), shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (ValueError, TypeError, RecursionError):
        # A circular structure, an integer past Python's 4,300-digit str() limit, keys that
        # cannot be sorted, or nesting deeper than the stack: describe instead of crashing.
        text = describe_unprintable(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_unprintable(value: Any) -> str:
    """A short description of a value that cannot be written out."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"a number of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    return f"a {type(value).__name__} too large or too deep to show"


_VERSION_PARTS = re.compile(r"\d+|[A-Za-z]+")


def _loose_version(text: str) -> tuple[tuple[int, int | str], ...]:
    """Fallback order for versions that are not PEP 440 (Debian, Go pseudo-versions...)."""
    return tuple(
        (1, int(part)) if part.isdigit() else (0, part.lower())
        for part in _VERSION_PARTS.findall(text.lstrip("vV"))
    )


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1: PEP 440 order where both parse, else a numeric-aware loose order.

    Callers bound both lengths (``MAX_VERSION_CHARS``): a loose part of more than 4,300
    digits is a ValueError from ``int``.
    """
    from packaging.version import InvalidVersion, Version

    try:
        a: Any = Version(left)
        b: Any = Version(right)
    except InvalidVersion:
        a, b = _loose_version(left), _loose_version(right)
    return int(a > b) - int(a < b)


# --------------------------------------------------------------------------- leaves


@dataclass(frozen=True)
class Leaf(Condition):
    """``{path, op, value}``."""

    path: Path
    op: str
    value: Any = None
    test: Callable[[Any, EvalContext], bool] = field(default=lambda _a, _c: False, compare=False)
    """The operator applied to the value the path selected (``_leaf_test``)."""

    def __post_init__(self) -> None:
        _compiled(self, _leaf_predicate(self.path, self.op, self.value, self.test))

    def describe(self) -> str:
        if self.op in ("exists", "absent"):
            return f"{self.path.expression} {self.op}"
        return f"{self.path.expression} {self.op} {_show(self.value)}"


def _leaf_predicate(
    path: Path, op: str, value: Any, test: Callable[[Any, EvalContext], bool]
) -> Predicate:
    """The leaf as one closure: select, refuse NaN and Infinity, apply the operator."""
    search = path.search
    if op == "exists":
        return lambda data, _c: search(data) is not None
    if op == "absent":
        return lambda data, _c: search(data) is None
    fast = _one_key_predicate(path, op, value)
    if fast is not None:
        return fast
    expression = path.expression

    def leaf(data: Any, ctx: EvalContext) -> bool:
        actual = search(data)
        # Every other op compares, and NaN compares false with everything: it would make
        # not_equals, not_in and the `not` of any comparison hold.
        if isinstance(actual, float) and not math.isfinite(actual):
            _refuse_non_finite(actual, expression)
        return test(actual, ctx)

    return leaf


def _texts(op: str, value: Any) -> frozenset[str] | None:
    """The strings an equals/in (or their negation) compares with, when all are strings."""
    if op in ("equals", "not_equals") and type(value) is str:
        return frozenset((value,))
    if (
        op in ("in", "not_in")
        and isinstance(value, list)
        and value
        and all(type(option) is str for option in value)
    ):
        return frozenset(value)
    return None


def _one_key_predicate(path: Path, op: str, value: Any) -> Predicate | None:
    """The commonest leaves fused into one closure: one field compared with strings
    (``equals``, ``in`` and their negations) or a regex. Semantics are ``Leaf``'s exactly:
    a string equals only a string, null and other types compare unequal, and NaN or Infinity
    in the field is refused."""
    if path.keys is None or len(path.keys) != 1:
        return None
    (key,) = path.keys
    expression = path.expression
    texts = _texts(op, value)
    if texts is not None:
        if op in ("equals", "in"):

            def member(data: Any, _c: EvalContext) -> bool:
                try:
                    actual = data.get(key)
                except AttributeError:
                    return False
                if actual.__class__ is str:
                    return actual in texts
                if isinstance(actual, float) and not math.isfinite(actual):
                    _refuse_non_finite(actual, expression)
                return False

            return member

        def not_member(data: Any, _c: EvalContext) -> bool:
            try:
                actual = data.get(key)
            except AttributeError:
                return True
            if actual.__class__ is str:
                return actual not in texts
            if isinstance(actual, float) and not math.isfinite(actual):
                _refuse_non_finite(actual, expression)
            return True

        return not_member
    if op == "matches" and isinstance(value, str):
        search = re.compile(value).search

        def matches(data: Any, _c: EvalContext) -> bool:
            try:
                actual = data.get(key)
            except AttributeError:
                return False
            if isinstance(actual, str):
                return search(actual) is not None
            if isinstance(actual, float) and not math.isfinite(actual):
                _refuse_non_finite(actual, expression)
            return False

        return matches
    return None


def _equals(value: Any) -> Callable[[Any], bool]:
    """``values_equal(actual, value, strict=True)`` specialised to ``value``'s type (the
    leaf has already refused a non-finite ``actual``; ``value`` was checked at compile)."""
    kind = type(value)
    if kind is str:
        return lambda actual: actual.__class__ is str and actual == value
    if value is None or kind is bool:
        # null and the booleans are singletons, and `true` is not `1`.
        return lambda actual: actual is value
    if _is_number(value):
        return lambda actual: _is_number(actual) and bool(actual == value)
    return lambda actual: values_equal(actual, value, strict=True)


def _leaf_test(
    op: str, value: Any, path: str, where: Sequence[str | int]
) -> Callable[[Any, EvalContext], bool]:
    """Build the test function of a leaf, validating ``value`` once at compile time."""
    if _has_non_finite(value):
        raise ConditionSyntaxError(
            f"op {op} value holds NaN or Infinity, which compare false with everything",
            [*where, "value"],
            hint="compare with finite numbers",
        )
    if op == "equals":
        equal = _equals(value)
        return lambda actual, _c: equal(actual)
    if op == "not_equals":
        equal = _equals(value)
        return lambda actual, _c: not equal(actual)
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise ConditionSyntaxError(f"op {op} needs a list value", [*where, "value"])
        options = tuple(_equals(option) for option in value)

        def member(actual: Any, _c: EvalContext) -> bool:
            # Loops rather than any()/all() here and below: these run per item, and a
            # generator costs a frame each call.
            for equal in options:  # noqa: SIM110
                if equal(actual):
                    return True
            return False

        if op == "in":
            return member
        return lambda actual, c: not member(actual, c)
    if op in ("contains", "not_contains"):

        def contains(actual: Any, _c: EvalContext) -> bool:
            if isinstance(actual, str):
                return isinstance(value, str) and value in actual
            if isinstance(actual, list):
                return any(values_equal(element, value, strict=True) for element in actual)
            if isinstance(actual, dict):
                return isinstance(value, str) and value in actual
            return False

        if op == "contains":
            return contains
        return lambda actual, c: not contains(actual, c)
    if op == "exists":
        return lambda actual, _c: actual is not None
    if op == "absent":
        return lambda actual, _c: actual is None
    if op == "matches":
        if not isinstance(value, str):
            raise ConditionSyntaxError("op matches needs a regex string value", [*where, "value"])
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ConditionSyntaxError(
                f"bad regex {value!r}: {exc}",
                [*where, "value"],
                hint="Python re syntax; escape backslashes in YAML double quotes",
            ) from None
        return lambda actual, _c: isinstance(actual, str) and regex.search(actual) is not None
    if op in ("gt", "gte", "lt", "lte"):
        if not _is_number(value):
            raise ConditionSyntaxError(f"op {op} needs a number value", [*where, "value"])
        threshold: Number = value
        wanted = ORDERS[op]
        return lambda actual, _c: (
            actual is not None and compare_numbers(_number(actual, path), threshold) in wanted
        )
    if op in ("older_than", "newer_than"):
        try:
            span = parse_duration(value)
        except ValueError as exc:
            raise ConditionSyntaxError(str(exc), [*where, "value"]) from None
        older = op == "older_than"

        def age_test(actual: Any, ctx: EvalContext) -> bool:
            if actual is None:
                return False
            instant = parse_instant(actual)
            if instant is None:
                raise EvaluationError(
                    f"{path} is {_show(actual)}, not an ISO 8601 date or datetime",
                    hint="write dates as 2026-11-21 or 2026-11-21T10:00:00Z",
                )
            age = ctx.now - instant
            return age > span if older else age < span

        return age_test
    # version_gte or version_lt: compile_condition admits only LEAF_OPS, all handled above.
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConditionSyntaxError(f"op {op} needs a version string", [*where, "value"])
    threshold_text = _version_text(value)
    if threshold_text is None:
        raise ConditionSyntaxError(
            f"op {op} value is longer than {MAX_VERSION_CHARS} characters", [*where, "value"]
        )
    want = (0, 1) if op == "version_gte" else (-1,)

    def version_test(actual: Any, _c: EvalContext) -> bool:
        if actual is None:
            return False
        if not isinstance(actual, str | int | float) or isinstance(actual, bool):
            raise EvaluationError(f"{path} is {_show(actual)}, not a version")
        text = _version_text(actual)
        if text is None:
            raise EvaluationError(
                f"{path} is a version longer than {MAX_VERSION_CHARS} characters ({_show(actual)})",
                hint=f"versions are compared up to {MAX_VERSION_CHARS} characters; "
                "fix what produced it",
            )
        return compare_versions(text, threshold_text) in want

    return version_test


def _version_text(value: str | int | float) -> str | None:
    """The version as text, or None when it is longer than ``MAX_VERSION_CHARS``."""
    try:
        text = str(value)
    except ValueError:  # an integer past Python's 4,300-digit str() limit
        return None
    return text if len(text) <= MAX_VERSION_CHARS else None


# --------------------------------------------------------------------------- composites


def _all(predicates: Sequence[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda data, ctx: first(data, ctx) and second(data, ctx)

    def every(data: Any, ctx: EvalContext) -> bool:
        for predicate in predicates:  # noqa: SIM110
            if not predicate(data, ctx):
                return False
        return True

    return every


def _any(predicates: Sequence[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda data, ctx: first(data, ctx) or second(data, ctx)

    def some(data: Any, ctx: EvalContext) -> bool:
        for predicate in predicates:  # noqa: SIM110
            if predicate(data, ctx):
                return True
        return False

    return some


@dataclass(frozen=True)
class All(Condition):
    """``{all: [...]}``: every part holds."""

    parts: tuple[Condition, ...]

    def __post_init__(self) -> None:
        _compiled(self, _all([part.predicate for part in self.parts]))

    def failures(self, data: Any, ctx: EvalContext) -> list[Failure]:
        out: list[Failure] = []
        for index, part in enumerate(self.parts):
            # One part that cannot be evaluated does not hide the other parts' violations.
            try:
                out.extend(part.failures(data, ctx))
            except (CompliancegateError, RecursionError) as exc:
                out.append(_item_error(data, f"all[{index}]", exc))
        return out

    def describe(self) -> str:
        return "all of (" + "; ".join(p.describe() for p in self.parts) + ")"


@dataclass(frozen=True)
class Any_(Condition):
    """``{any: [...]}``: at least one part holds."""

    parts: tuple[Condition, ...]

    def __post_init__(self) -> None:
        _compiled(self, _any([part.predicate for part in self.parts]))

    def describe(self) -> str:
        return "any of (" + "; ".join(p.describe() for p in self.parts) + ")"


@dataclass(frozen=True)
class Not(Condition):
    """``{not: COND}``."""

    part: Condition

    def __post_init__(self) -> None:
        inner = self.part.predicate
        _compiled(self, lambda data, ctx: not inner(data, ctx))

    def describe(self) -> str:
        return f"not ({self.part.describe()})"


def _item_error(item: Any, where: str, exc: Exception) -> Failure:
    """The ``error`` failure of ``item`` whose evaluation raised ``exc`` (an evaluation
    error, or data nested too deep to evaluate)."""
    if isinstance(exc, CompliancegateError):
        return Failure(item, f"{where}: {exc.message}", subkey=where, error=True)
    return Failure(item, f"{where}: too deeply nested to evaluate", where, error=True)


def _items(selected: Any) -> list[Any]:
    """What a for_each/count path selected, as a list: nothing for null, one for a scalar."""
    if selected is None:
        return []
    if isinstance(selected, list):
        return selected
    return [selected]


def _selected(where: Condition | None, check: Predicate) -> Predicate:
    """Whether an item counts: it passes ``where`` (if any) and fails ``check``."""
    if where is None:
        return lambda item, ctx: not check(item, ctx)
    passes = where.predicate
    return lambda item, ctx: passes(item, ctx) and not check(item, ctx)


INDEX_MIN_ITEMS = 64
"""Below this many items a ``where`` is evaluated item by item: an index would cost more."""


@dataclass(frozen=True)
class ForEach(Condition):
    """``{for_each, where, assert}``: every selected item passing ``where`` passes ``assert``."""

    path: Path
    where: Condition | None
    check: Condition
    failing: Predicate = field(init=False, compare=False, repr=False)
    """An item passing ``where`` and failing ``assert``: one closure, called once per item."""
    where_texts: tuple[str, frozenset[str]] | None = field(init=False, compare=False, repr=False)
    """For a ``where`` comparing one field with strings (equals or in): the field and the
    strings. Over a long list, only the items the run's ``TextIndex`` gives are evaluated:
    the other items' ``where`` is false. This is most policies over scanner findings
    (``where: {path: target, op: equals, ...}``), which Rego engines get from Trivy's nesting
    by target and this engine from the index."""

    def __post_init__(self) -> None:
        search, failing = self.path.search, _selected(self.where, self.check.predicate)
        object.__setattr__(self, "failing", failing)
        object.__setattr__(self, "where_texts", _where_texts(self.where))

        def every(data: Any, ctx: EvalContext) -> bool:
            for item in _items(search(data)):  # noqa: SIM110
                if failing(item, ctx):
                    return False
            return True

        _compiled(self, every)

    def failures(self, data: Any, ctx: EvalContext) -> list[Failure]:
        """One failure per failing item; an item that cannot be evaluated is an ``error``
        failure naming its index, and the items after it are still evaluated."""
        items = _items(self.path.search(data))
        positions: list[int] | None = None
        candidates = items
        # Only over a list the document holds (Path.in_place): a projection or a
        # multi-select makes a new list each time, which an index would only pile up.
        if self.where_texts is not None and self.path.in_place and len(items) >= INDEX_MIN_ITEMS:
            key, texts = self.where_texts
            positions = ctx.text_index(items, key).positions(texts)
            candidates = [items[position] for position in positions]
        failing = self.failing
        try:
            # The common case first: no item raises, so the loop is a plain comprehension
            # (one closure call per item) and the failures share one detail text.
            bad = [item for item in candidates if failing(item, ctx)]
        except (CompliancegateError, RecursionError):
            return self._failures_one_by_one(items, ctx, positions)
        if not bad:
            return []
        detail = f"fails {self.check.describe()}"
        return [Failure(item, detail) for item in bad]

    def _failures_one_by_one(
        self, items: list[Any], ctx: EvalContext, positions: list[int] | None
    ) -> list[Failure]:
        detail = f"fails {self.check.describe()}"
        failing = self.failing
        out: list[Failure] = []
        for index in range(len(items)) if positions is None else positions:
            item = items[index]
            try:
                if failing(item, ctx):
                    out.append(Failure(item, detail))
            except (CompliancegateError, RecursionError) as exc:
                out.append(_item_error(item, f"{self.path.expression}[{index}]", exc))
        return out

    def describe(self) -> str:
        return f"for each {self.path.expression}: {self.check.describe()}"


def _where_texts(where: Condition | None) -> tuple[str, frozenset[str]] | None:
    if not isinstance(where, Leaf) or where.op not in ("equals", "in"):
        return None
    keys, texts = where.path.keys, _texts(where.op, where.value)
    if keys is None or len(keys) != 1 or texts is None:
        return None
    return keys[0], texts


@dataclass(frozen=True)
class Count(Condition):
    """``{count, where, op, value}``: how many selected items pass ``where``."""

    path: Path
    where: Condition | None
    op: str
    value: int | float

    def __post_init__(self) -> None:
        wanted, value = ORDERS[self.op], self.value
        _compiled(self, lambda data, ctx: compare_numbers(self.count(data, ctx), value) in wanted)

    def count(self, data: Any, ctx: EvalContext) -> int:
        """The number of selected items that pass ``where``."""
        items = _items(self.path.search(data))
        if self.where is None:
            return len(items)
        passes = self.where.predicate
        return sum(1 for item in items if passes(item, ctx))

    def failures(self, data: Any, ctx: EvalContext) -> list[Failure]:
        n = self.count(data, ctx)
        if compare_numbers(n, self.value) in ORDERS[self.op]:
            return []
        return [
            Failure(
                data,
                f"count of {self.path.expression} is {n}, expected {self.op} {_show(self.value)}",
            )
        ]

    def describe(self) -> str:
        return f"count of {self.path.expression} {self.op} {_show(self.value)}"


@dataclass(frozen=True)
class Schema(Condition):
    """``{schema: ...}``: the data validates; each validation error is one failure."""

    validator: Any = field(compare=False)
    source: str = ""

    def __post_init__(self) -> None:
        _compiled(self, self._valid)

    def _valid(self, data: Any, _c: EvalContext) -> bool:
        with self._unresolvable_is_an_evaluation_error():
            return bool(self.validator.is_valid(data))

    def failures(self, data: Any, ctx: EvalContext) -> list[Failure]:
        out: list[Failure] = []
        with self._unresolvable_is_an_evaluation_error():
            errors = sorted(
                self.validator.iter_errors(data),
                key=lambda e: ([str(p) for p in e.absolute_path], e.message),
            )
        for error in errors[:MAX_SCHEMA_ERRORS]:
            where = "/" + "/".join(str(p) for p in error.absolute_path)
            out.append(Failure(data, f"{where}: {error.message}", subkey=where + error.message))
        return out

    def describe(self) -> str:
        return f"schema {self.source}".strip()

    @contextlib.contextmanager
    def _unresolvable_is_an_evaluation_error(self) -> Iterator[None]:
        # A $ref inside the schema that resolves to nothing is only found when validation
        # reaches it; it must end the policy in error, not crash the run.
        from referencing.exceptions import Unresolvable

        try:
            yield
        except Unresolvable as exc:
            raise EvaluationError(
                f"schema {self.source}: cannot resolve $ref: {exc}",
                hint="a schema's own $ref may only point inside it (#/$defs/...)",
            ) from None


# --------------------------------------------------------------------------- compiler


@dataclass(frozen=True)
class CompileContext:
    """Where the condition comes from: ``base_dir`` resolves ``$ref`` schema files."""

    base_dir: FsPath
    paths: dict[str, Path] = field(default_factory=dict, compare=False)

    def path(self, expression: Any, where: Sequence[str | int]) -> Path:
        """Compile (or reuse) a JMESPath expression."""
        if not isinstance(expression, str) or not expression.strip():
            raise ConditionSyntaxError("a path must be a non-empty JMESPath string", where)
        cached = self.paths.get(expression)
        if cached is None:
            try:
                cached = compile_path(expression)
            except CompliancegateError as exc:
                raise ConditionSyntaxError(exc.message, where, exc.hint) from None
            self.paths[expression] = cached
        return cached


def compile_condition(
    spec: Any, ctx: CompileContext, where: Sequence[str | int] = ("rule",)
) -> Condition:
    """Compile the YAML form of a condition; raises ``ConditionSyntaxError``."""
    if not isinstance(spec, dict) or not spec:
        raise ConditionSyntaxError("a condition must be a non-empty mapping", where)
    keys = set(spec)

    def only(allowed: set[str], required: set[str]) -> None:
        unknown = sorted(keys - allowed)
        if unknown:
            raise ConditionSyntaxError(
                f"unknown key {unknown[0]!r} in condition",
                [*where, unknown[0]],
                hint="allowed here: " + ", ".join(sorted(allowed)),
            )
        missing = sorted(required - keys)
        if missing:
            raise ConditionSyntaxError(f"condition lacks {missing[0]!r}", where)

    if "all" in keys or "any" in keys:
        name = "all" if "all" in keys else "any"
        only({name}, {name})
        parts = spec[name]
        if not isinstance(parts, list) or not parts:
            raise ConditionSyntaxError(f"{name} needs a non-empty list", [*where, name])
        compiled = tuple(compile_condition(p, ctx, [*where, name, i]) for i, p in enumerate(parts))
        return All(compiled) if name == "all" else Any_(compiled)
    if "not" in keys:
        only({"not"}, {"not"})
        return Not(compile_condition(spec["not"], ctx, [*where, "not"]))
    if "for_each" in keys:
        only({"for_each", "where", "assert"}, {"for_each", "assert"})
        return ForEach(
            ctx.path(spec["for_each"], [*where, "for_each"]),
            compile_condition(spec["where"], ctx, [*where, "where"]) if "where" in spec else None,
            compile_condition(spec["assert"], ctx, [*where, "assert"]),
        )
    if "count" in keys:
        only({"count", "where", "op", "value"}, {"count", "op", "value"})
        if spec["op"] not in COUNT_OPS:
            raise ConditionSyntaxError(
                f"count op must be one of {', '.join(COUNT_OPS)}", [*where, "op"]
            )
        if not _is_number(spec["value"]) or is_non_finite(spec["value"]):
            raise ConditionSyntaxError("count value must be a finite number", [*where, "value"])
        return Count(
            ctx.path(spec["count"], [*where, "count"]),
            compile_condition(spec["where"], ctx, [*where, "where"]) if "where" in spec else None,
            spec["op"],
            spec["value"],
        )
    if "schema" in keys:
        only({"schema"}, {"schema"})
        return _compile_schema(spec["schema"], ctx, [*where, "schema"])
    if "path" in keys or "op" in keys:
        only({"path", "op", "value"}, {"path", "op"})
        op = spec["op"]
        if not isinstance(op, str) or op not in LEAF_OPS:
            raise ConditionSyntaxError(
                f"unknown op {op!r}", [*where, "op"], hint="ops: " + ", ".join(LEAF_OPS)
            )
        if op in ("exists", "absent"):
            if "value" in spec:
                raise ConditionSyntaxError(f"op {op} takes no value", [*where, "value"])
        elif "value" not in spec:
            raise ConditionSyntaxError(f"op {op} needs a value", where)
        path = ctx.path(spec["path"], [*where, "path"])
        value = spec.get("value")
        return Leaf(path, op, value, _leaf_test(op, value, path.expression, where))
    raise ConditionSyntaxError(
        f"unknown condition with keys {', '.join(sorted(map(str, keys)))}",
        where,
        hint="a condition is one of all, any, not, for_each, count, schema or {path, op, value}",
    )


def _compile_schema(spec: Any, ctx: CompileContext, where: Sequence[str | int]) -> Schema:
    import jsonschema
    import jsonschema.exceptions
    import jsonschema.validators

    source = "(inline)"
    if isinstance(spec, dict) and set(spec) == {"$ref"} and isinstance(spec["$ref"], str):
        ref = spec["$ref"]
        if "://" in ref or ref.startswith("#"):
            raise ConditionSyntaxError(
                "schema $ref must name a local file relative to the policy", where
            )
        from compliancegate.loading.documents import read_document

        target = (ctx.base_dir / ref).resolve()
        try:
            spec = read_document(target)
        except CompliancegateError as exc:
            raise ConditionSyntaxError(f"cannot load schema {ref}: {exc}", where) from None
        source = ref
    if not isinstance(spec, dict):
        raise ConditionSyntaxError("schema must be a JSON Schema object", where)
    cls = jsonschema.validators.validator_for(spec, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(spec)
    except jsonschema.exceptions.SchemaError as exc:
        raise ConditionSyntaxError(
            f"invalid JSON Schema ({source}): {exc.message}", where
        ) from None
    return Schema(cls(spec), source)
