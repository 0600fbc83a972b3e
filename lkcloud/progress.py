"""Progress reporting: the library reports, the CLI renders.

Library functions take an optional :class:`Reporter`; the default one is silent. The CLI passes
one that draws progress bars on a terminal (none under ``--json``, ``--quiet`` or without a tty).
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("lkcloud")


class Task(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def done(self) -> None: ...


class Reporter(Protocol):
    def step(self, message: str) -> None:
        """A one-line status message ("pushing layer 3/7", "waiting for snapshot")."""

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        """A measurable piece of work; ``total`` in ``unit`` (bytes by default) when known."""
        ...


class _NullTask:
    def advance(self, amount: int = 1) -> None:
        pass

    def done(self) -> None:
        pass


class NullReporter:
    """Reports nothing but debug log lines."""

    def step(self, message: str) -> None:
        log.debug("%s", message)

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        log.debug("%s", description)
        return _NullTask()


NULL = NullReporter()
