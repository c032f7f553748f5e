"""Safe YAML: the safe loader, YAML 1.2 booleans, dates kept as strings, line marks, and
limits against alias bombs and deep nesting.

Every YAML read in compliancegate (registers, policies, waivers, config, artifacts) goes
through :func:`load_documents`.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from compliancegate.errors import CompliancegateError

MAX_NODES = 2_000_000
"""Largest expanded size (nodes, aliases counted every time they are used) of a document."""
MAX_DEPTH = 200
"""Deepest nesting of mappings and sequences accepted."""

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that remembers the line of every mapping, sequence and mapping key."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.line_of: dict[int, int] = {}
        self.key_lines: dict[int, dict[Hashable, int]] = {}

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        data = super().construct_object(node, deep=deep)
        if isinstance(data, dict | list):
            self.line_of.setdefault(id(data), node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
            lines = self.key_lines.setdefault(id(data), {})
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    lines.setdefault(key_node.value, key_node.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
            # Entries by index, so a scalar entry (a control name) has its own line.
            lines = self.key_lines.setdefault(id(data), {})
            for index, item_node in enumerate(node.value):
                lines.setdefault(index, item_node.start_mark.line + 1)
        return data


# Plain scalars are typed by YAML 1.2's core schema, which is what users expect today:
# YAML 1.1 reads `on:`, `yes` and `no` as booleans (a GitHub workflow's `on:` key becomes
# True), `012` as octal 10 and `1:20` as the base-60 number 80, silently changing ports, modes
# and times. Timestamps stay strings so documents stay JSON-shaped; loaders parse the dates
# they need.
_REPLACED = (
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """YAML 1.2 integers: decimal (leading zeros allowed), 0o octal, 0x hexadecimal."""
    text = str(loader.construct_scalar(node))
    try:
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not an integer", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _refuse(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Tags whose values are not JSON-shaped (sets, bytes, ordered pairs, dates) are refused:
    every document must look the same to a policy whatever syntax it came in."""
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"the tag {node.tag} is not allowed (documents must be JSON-shaped)",
        node.start_mark,
    )


for _tag in ("set", "binary", "omap", "pairs", "timestamp"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)


@dataclass
class YamlDocument:
    """One document of a YAML stream, with the lines its parts came from."""

    data: Any
    start_line: int
    line_of: dict[int, int] = field(default_factory=dict)
    key_lines: dict[int, dict[Hashable, int]] = field(default_factory=dict)

    def line_at(self, path: Sequence[str | int]) -> int | None:
        """The line of the value at ``path`` (keys and indexes from the root), best effort."""
        node: Any = self.data
        line: int | None = self.line_of.get(id(node), self.start_line)
        for part in path:
            if isinstance(node, dict) and part in node:
                line = self.key_lines.get(id(node), {}).get(part, line)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line = self.key_lines.get(id(node), {}).get(part, line)
                node = node[part]
                line = self.line_of.get(id(node), line)
            else:
                break
        return line


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _check_size(root: yaml.Node, source: str) -> None:
    """Reject alias bombs, deep nesting and duplicate keys before anything is constructed.

    Sizes are memoized per node, so a billion-laughs document is measured in a few steps
    instead of being expanded.
    """
    sizes: dict[int, int] = {}
    # Height below each node, memoized like sizes: a node reached through an alias is not
    # walked again, so its depth must come from its height, not from the path walked.
    heights: dict[int, int] = {}
    # Iterative post-order walk: PyYAML's own recursion must not be what stops a deep document.
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, expanded = stack.pop()
        if id(node) in sizes:
            continue
        if depth > MAX_DEPTH:
            raise CompliancegateError(
                f"YAML nesting deeper than {MAX_DEPTH} levels",
                file=source,
                line=node.start_mark.line + 1,
                hint="flatten the document; such depth is not needed by any format we read",
            )
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key, value in node.value:
                children.extend((key, value))
                if expanded or not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                    continue
                # YAML 1.2 requires unique keys; PyYAML would silently keep the last value,
                # so a reviewer and the gate could read different rules or expiry dates.
                if (key.tag, key.value) in keys:
                    raise CompliancegateError(
                        f"duplicate key {key.value!r} in a mapping",
                        file=source,
                        line=key.start_mark.line + 1,
                        hint="each key may appear once in a mapping; remove or merge the other",
                    )
                keys.add((key.tag, key.value))
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if not children:
            sizes[id(node)] = 1
            heights[id(node)] = 1
            continue
        if not expanded:
            stack.append((node, depth, True))
            stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(child), 1) for child in children)
        if total > MAX_NODES:
            raise CompliancegateError(
                f"YAML expands to more than {MAX_NODES:,} nodes (an alias bomb?)",
                file=source,
                line=node.start_mark.line + 1,
                hint="remove the repeated aliases (&anchor/*alias) that multiply the document",
            )
        height = 1 + max(heights.get(id(child), 1) for child in children)
        if height > MAX_DEPTH:
            raise CompliancegateError(
                f"YAML nesting deeper than {MAX_DEPTH} levels (through aliases)",
                file=source,
                line=node.start_mark.line + 1,
                hint="flatten the document; such depth is not needed by any format we read",
            )
        sizes[id(node)] = total
        heights[id(node)] = height


def _check_keys(root: yaml.Node, source: str) -> None:
    """``_check_size`` for a document without aliases, nesting well under ``MAX_DEPTH`` and
    fewer nodes than ``MAX_NODES`` (``_check_depth`` saw its events): only repeated keys can
    be wrong, and they are looked for in the order ``_check_size`` looks, so the same one is
    reported."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
                if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                    continue
                if (key.tag, key.value) in keys:
                    raise CompliancegateError(
                        f"duplicate key {key.value!r} in a mapping",
                        file=source,
                        line=key.start_mark.line + 1,
                        hint="each key may appear once in a mapping; remove or merge the other",
                    )
                keys.add((key.tag, key.value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _check_depth(text: str, source: str) -> bool:
    """Reject nesting deeper than ``MAX_DEPTH`` from the event stream, before composing.

    libyaml's composer recurses in C: a document nested some tens of thousands deep (a line
    of ``[`` or of ``- ``) overflows the C stack and kills the interpreter before
    ``_check_size`` could see the tree. Events are produced without recursion, and stopping
    at ``MAX_DEPTH`` also bounds the scanner's cost per token on deep flow collections.
    Syntax errors are left to the real parse, which reports them with their line.

    Returns whether the stream is plain: no alias, nesting at most ``MAX_DEPTH - 2``
    collections and fewer events than ``MAX_NODES``, so that ``_check_keys`` is all that
    ``_check_size`` would find wrong with its documents.
    """
    scanner = _BaseLoader(text)
    depth = deepest = events = 0
    aliases = False
    try:
        while scanner.check_event():
            event = scanner.get_event()  # type: ignore[no-untyped-call]
            events += 1
            if isinstance(event, yaml.AliasEvent):
                aliases = True
            elif isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise CompliancegateError(
                        f"YAML nesting deeper than {MAX_DEPTH} levels",
                        file=source,
                        line=mark.line + 1 if mark is not None else None,
                        hint="flatten the document; such depth is not needed by any format we read",
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return False
    finally:
        scanner.dispose()
    return not aliases and deepest <= MAX_DEPTH - 2 and events < MAX_NODES


def load_documents(text: str, source: str) -> list[YamlDocument]:
    """Parse every document of a YAML stream safely.

    Raises ``CompliancegateError`` naming ``source`` and the line for malformed YAML, alias
    bombs, nesting deeper than ``MAX_DEPTH``, duplicate keys, and non-JSON-shaped keys.
    """
    plain = _check_depth(text, source)
    loader = _Loader(text)
    documents: list[YamlDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # an empty stream
                continue
            if plain:
                _check_keys(node, source)
            else:
                _check_size(node, source)
            data = loader.construct_document(node)
            documents.append(
                YamlDocument(data, node.start_mark.line + 1, loader.line_of, loader.key_lines)
            )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise CompliancegateError(
            f"invalid YAML: {problem}",
            file=source,
            line=line,
            hint="check indentation and quoting around that line",
        ) from None
    except yaml.YAMLError as exc:
        raise CompliancegateError(f"invalid YAML: {exc}", file=source) from None
    except RecursionError:
        raise CompliancegateError(
            "YAML nesting too deep to read",
            file=source,
            hint="flatten the document",
        ) from None
    finally:
        loader.dispose()
    return documents
