"""YAML text -> a tree of located values, read the way LinuxKit's yaml.v3 decoder reads it.

Plain scalars follow yaml.v3 (YAML 1.2 style): only ``true``/``false`` are booleans (``yes`` and
``on`` stay strings), ``0777`` is octal, timestamps stay strings. Duplicate mapping keys are errors.
Only the first document is read, as LinuxKit does. Every node keeps the 1-based line it was
written on (for a mapping value: the line of its key).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from lkcloud.errors import ConfigError

try:
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - libyaml missing
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


Value = Union[dict[str, "Node"], list["Node"], str, int, float, bool, None]  # noqa: UP007 (recursive alias)

_TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, MERGE = (f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "merge"))
SEQ, MAP = f"{_TAG}seq", f"{_TAG}map"

_WORDS: dict[str, tuple[str, Any]] = {
    **{w: (BOOL, True) for w in ("true", "True", "TRUE")},
    **{w: (BOOL, False) for w in ("false", "False", "FALSE")},
    **{w: (NULL, None) for w in ("", "~", "null", "Null", "NULL")},
    **{w: (FLOAT, math.nan) for w in (".nan", ".NaN", ".NAN")},
    **{w: (FLOAT, math.inf) for w in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{w: (FLOAT, -math.inf) for w in ("-.inf", "-.Inf", "-.INF")},
    "<<": (MERGE, None),
}
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?")
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdef"}
_INT64 = 2**63
_UINT64 = 2**64
MAX_NODES = 1_000_000  # guards against alias bombs


@dataclass(frozen=True)
class Node:
    """A located value: mappings hold ``dict[str, Node]``, sequences ``list[Node]``."""

    value: Value
    line: int

    def plain(self) -> Any:
        """The value with all locations removed (plain dicts, lists and scalars)."""
        if isinstance(self.value, dict):
            return {key: child.plain() for key, child in self.value.items()}
        if isinstance(self.value, list):
            return [child.plain() for child in self.value]
        return self.value


def _go_int(text: str) -> int | None:
    """An integer as Go's strconv.ParseInt/ParseUint(text, 0, 64) reads it, else None."""
    sign, body = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    prefixes = {"0x": 16, "0o": 8, "0b": 2}
    base = prefixes.get(body[:2].lower(), 0)
    if base:
        digits = body[2:]
    elif body.startswith("0") and len(body) > 1:
        base, digits = 8, body[1:]
    else:
        base, digits = 10, body
    if not digits or any(c not in _DIGITS[base] for c in digits.lower()):
        return None
    value = int(digits, base) * (-1 if sign == "-" else 1)
    if -_INT64 <= value < _INT64 or (not sign and value < _UINT64):
        return value
    return None


def resolve_plain(text: str) -> tuple[str, Any]:
    """(tag, value) of an untagged plain scalar, as yaml.v3 resolves it into an interface{}."""
    if text in _WORDS:
        return _WORDS[text]
    first = text[:1]
    if first == ".":
        return (FLOAT, float(text)) if _FLOAT.fullmatch(text) else (STR, text)
    if not first or first not in "+-0123456789":
        return STR, text
    if _TIMESTAMP.fullmatch(text):
        return STR, text  # yaml.v3 keeps implicit timestamps as strings in an interface{}
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return INT, number
    if _FLOAT.fullmatch(plain):
        value = float(plain)
        if math.isfinite(value):
            return FLOAT, value
    return STR, text


class _Resolver:
    """Tags nodes without yaml 1.1 guessing; plain scalars are resolved when they are read."""

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return "!plain" if implicit[0] else STR
        return SEQ if kind is SequenceNode else MAP

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        """Path-based resolution is not used."""

    def ascend_resolver(self) -> None:
        """Path-based resolution is not used."""


class _Loader(_Parser, _Resolver):
    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)


class _Builder:
    """Turns composed yaml nodes into ``Node``s, collecting problems instead of stopping."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[str] = []
        self._done: dict[int, Node] = {}
        self._active: set[int] = set()
        self._count = 0

    def fail(self, line: int, path: str, message: str) -> None:
        where = f"{path}: " if path else ""
        self.problems.append(f"{self.filename}:{line}: {where}{message}")

    def build(self, node: yaml.Node, path: str) -> Node:
        key = id(node)
        if key in self._done:  # an alias: share the node already built
            return self._done[key]
        line = node.start_mark.line + 1
        if key in self._active:
            self.fail(line, path, "recursive alias")
            return Node(None, line)
        self._count += 1
        if self._count > MAX_NODES:
            raise ConfigError([f"{self.filename}:{line}: document too large (more than {MAX_NODES} values)"])
        self._active.add(key)
        try:
            built = self._build(node, path, line)
        finally:
            self._active.discard(key)
        self._done[key] = built
        return built

    def _build(self, node: yaml.Node, path: str, line: int) -> Node:
        if isinstance(node, ScalarNode):
            return Node(self._scalar(node, path, line), line)
        if isinstance(node, SequenceNode):
            return Node([self.build(item, f"{path}[{i}]") for i, item in enumerate(node.value)], line)
        if isinstance(node, MappingNode):
            return self._mapping(node, path, line)
        self.fail(line, path, f"unsupported YAML node {node.tag}")  # pragma: no cover
        return Node(None, line)

    def _scalar(self, node: ScalarNode, path: str, line: int) -> Any:
        text = str(node.value)
        if node.tag == "!plain":
            return resolve_plain(text)[1]
        if node.tag == STR:
            return text
        tag, value = resolve_plain(text)
        if tag == node.tag and tag != MERGE:
            return value
        if node.tag == FLOAT and tag == INT:
            return float(value)
        self.fail(line, path, f"cannot read {text!r} as {node.tag.removeprefix(_TAG)!r}")
        return None

    def _mapping(self, node: MappingNode, path: str, line: int) -> Node:
        own: dict[str, Node] = {}
        merged: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if isinstance(key_node, ScalarNode) and key_node.tag == "!plain" and key_node.value == "<<":
                self._merge(value_node, path, merged)
                continue
            key = self.build(key_node, path).value
            if not isinstance(key, str):
                self.fail(key_line, path, f"mapping keys must be strings, not {key!r}")
                continue
            child_path = f"{path}.{key}" if path else key
            if key in own:
                self.fail(key_line, child_path, f"duplicate key (first defined at line {own[key].line})")
                continue
            child = self.build(value_node, child_path)
            own[key] = child if child.line == key_line else Node(child.value, key_line)
        return Node({**merged, **own}, line)

    def _merge(self, value: yaml.Node, path: str, into: dict[str, Node]) -> None:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            built = self.build(source, path)
            if not isinstance(built.value, dict):
                self.fail(built.line, path, "a merge key (<<) needs a mapping or a list of mappings")
                continue
            for key, child in built.value.items():
                into.setdefault(key, child)


def _parse_error(filename: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    where = f" ({context} at line {context_mark.line + 1})" if context and context_mark else ""
    line = f"{mark.line + 1}: " if mark is not None else " "
    return f"{filename}:{line}invalid YAML: {problem}{where}"


def parse(text: str, filename: str) -> Node:
    """The first YAML document of ``text`` as a located tree; raises ConfigError on bad YAML."""
    loader = _Loader(text)
    try:
        root = loader.get_node() if loader.check_node() else None
    except yaml.YAMLError as exc:
        raise ConfigError([_parse_error(filename, exc)]) from None
    except RecursionError:
        raise ConfigError([f"{filename}: invalid YAML: nested too deeply"]) from None
    finally:
        loader.dispose()
    if root is None:
        raise ConfigError([f"{filename}: the file is empty"], hint="a LinuxKit config is a YAML mapping")
    builder = _Builder(filename)
    try:
        tree = builder.build(root, "")
    except RecursionError:
        raise ConfigError([f"{filename}: invalid YAML: nested too deeply"]) from None
    if builder.problems:
        raise ConfigError(builder.problems)
    return tree
