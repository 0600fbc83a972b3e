"""Schema pieces fleet files and fleet defaults share (on :mod:`lkcloud.spec.schema`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lkcloud.platform import ARCH_ALIASES
from lkcloud.spec.document import Node
from lkcloud.spec.schema import (
    BOOLEAN,
    STRING,
    Enum,
    Obj,
    Problems,
    Scalar,
    Spec,
    describe,
)

MAX_SIZE = 1000


def whole(low: int, high: int) -> Scalar:
    """A whole number from ``low`` to ``high``."""
    label = f"a whole number from {low} to {high}"
    return Scalar((int,), label, lambda v: None if low <= v <= high else f"expected {label}, got {v}")


SECONDS = Scalar((int, float), "a number of seconds",
                 lambda v: None if v >= 0 else f"expected a number of seconds (0 or more), got {v}")
PERCENT = whole(0, 100)
ARCH = Enum(tuple(ARCH_ALIASES))


@dataclass(frozen=True)
class Either:
    """One of several shapes, chosen by the node's type (a string, or a list of strings...)."""

    choices: tuple[tuple[type, Spec], ...]
    label: str

    def walk(self, node: Node, path: str, out: Problems) -> bool:
        for kind, spec in self.choices:
            if isinstance(node.value, kind) and not isinstance(node.value, bool):
                return spec.walk(node, path, out)
        out.add(node.line, path, f"expected {self.label}, got {describe(node.value)}")
        return False


def optional(spec: Spec) -> Spec:
    """``spec``, or null."""
    return Either(((type(None), Scalar((type(None),), "null")), (object, spec)), "a value or null")


UPDATE = Obj({
    "max_surge": whole(0, MAX_SIZE), "max_unavailable": whole(0, MAX_SIZE), "min_healthy_percent": PERCENT,
    "warmup_seconds": whole(0, 86400), "canary_percent": optional(whole(1, 99)), "pause_seconds": whole(0, 172800),
    "auto_rollback": BOOLEAN,
})
HEALTH = Obj({
    "path": Scalar((str,), "a path", lambda v: None if v.startswith("/") else f'expected a path starting with "/"'
                   f", got {v!r}"),
    "port": whole(1, 65535), "interval_seconds": SECONDS, "timeout_seconds": SECONDS, "grace_seconds": SECONDS,
})
INSTANCE_TYPE = Either(((str, STRING), (dict, Obj({arch: STRING for arch in ARCH_ALIASES}))),
                       "an instance type, or one per architecture (amd64: ..., arm64: ...)")

Check = Callable[[Node], list[str]]
