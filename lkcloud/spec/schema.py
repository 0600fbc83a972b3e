"""A small strict schema language over located YAML trees, reporting every problem with its place.

A schema is built from ``Scalar``, ``Enum``, ``ListOf``, ``MapOf`` and ``Obj``. Objects reject
unknown keys. Semantic checks hang off the schema as hooks; a hook runs only when the value it is
attached to (and everything below it) has the right shape, so hooks never see malformed input.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lkcloud.spec.document import Node


@dataclass(frozen=True)
class Issue:
    """A problem found by a hook: ``suffix`` is appended to the key path (``[2]``, ``.mode``)."""

    suffix: str
    line: int
    message: str


Hook = Callable[[Node], Iterable[Issue]]
ValueCheck = Callable[[Any], str | None]


class Problems:
    """Collects one-line problems naming file, line and key path."""

    def __init__(self, filename: str, prefix: str = "") -> None:
        self.filename = filename
        self.prefix = prefix  # prepended to every path (e.g. a label validated as a service)
        self.items: list[str] = []

    def add(self, line: int, path: str, message: str) -> None:
        full = self.prefix + path if self.prefix else path
        where = f" {full}:" if full else ""
        self.items.append(f"{self.filename}:{line}:{where} {message}")


def describe(value: Any) -> str:
    """A value's type for messages, in YAML words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'a string "{shown}"'
    return "a list" if isinstance(value, list) else "a mapping"


def _has_type(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


class Spec(Protocol):
    def walk(self, node: Node, path: str, out: Problems) -> bool:
        """Report problems of ``node`` at ``path``; True when it is valid."""
        ...


@dataclass(frozen=True)
class Scalar:
    types: tuple[type, ...]
    label: str  # "a string", "an integer", ...
    check: ValueCheck | None = None

    def walk(self, node: Node, path: str, out: Problems) -> bool:
        if not _has_type(node.value, self.types):
            out.add(node.line, path, f"expected {self.label}, got {describe(node.value)}")
            return False
        message = self.check(node.value) if self.check else None
        if message:
            out.add(node.line, path, message)
            return False
        return True


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]

    def walk(self, node: Node, path: str, out: Problems) -> bool:
        if isinstance(node.value, str) and node.value in self.values:
            return True
        choices = " or ".join(f'"{v}"' for v in self.values)
        out.add(node.line, path, f"expected {choices}, got {describe(node.value)}")
        return False


def _run_hook(hook: Hook | None, node: Node, path: str, out: Problems) -> bool:
    if hook is None:
        return True
    issues = list(hook(node))
    for issue in issues:
        out.add(issue.line, path + issue.suffix, issue.message)
    return not issues


@dataclass(frozen=True)
class ListOf:
    item: Spec
    check: Hook | None = None

    def walk(self, node: Node, path: str, out: Problems) -> bool:
        if not isinstance(node.value, list):
            out.add(node.line, path, f"expected a list, got {describe(node.value)}")
            return False
        results = [self.item.walk(child, f"{path}[{i}]", out) for i, child in enumerate(node.value)]
        return all(results) and _run_hook(self.check, node, path, out)


@dataclass(frozen=True)
class MapOf:
    value: Spec

    def walk(self, node: Node, path: str, out: Problems) -> bool:
        if not isinstance(node.value, dict):
            out.add(node.line, path, f"expected a mapping, got {describe(node.value)}")
            return False
        results = [self.value.walk(child, f"{path}.{key}", out) for key, child in node.value.items()]
        return all(results)


@dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Spec]
    required: tuple[str, ...] = ()
    check: Hook | None = None
    what: str = "a mapping"

    def walk(self, node: Node, path: str, out: Problems) -> bool:
        if not isinstance(node.value, dict):
            out.add(node.line, path, f"expected {self.what}, got {describe(node.value)}")
            return False
        ok = True
        for key, child in node.value.items():
            child_path = f"{path}.{key}" if path else key
            spec = self.fields.get(key)
            if spec is not None:
                ok = spec.walk(child, child_path, out) and ok
            else:
                out.add(child.line, child_path, "unknown key" + _suggest(key, self.fields))
                ok = False
        for key in self.required:
            if key not in node.value:
                out.add(node.line, path, f'missing required key "{key}"')
                ok = False
        return ok and _run_hook(self.check, node, path, out)


def _suggest(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


STRING = Scalar((str,), "a string")
BOOLEAN = Scalar((bool,), "a boolean")
INTEGER = Scalar((int,), "an integer")
STRINGS = ListOf(STRING)
MAPSTRING = MapOf(STRING)


def string(check: ValueCheck) -> Scalar:
    """A string with a value check."""
    return Scalar((str,), "a string", check)


def strings(item_check: ValueCheck | None = None, check: Hook | None = None) -> ListOf:
    """A list of strings, each checked by ``item_check``, the whole by ``check``."""
    return ListOf(string(item_check) if item_check else STRING, check)
