"""How many requests an upload keeps in flight: fewer when the service throttles, more again as
requests succeed (additive increase, multiplicative decrease)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class AdaptiveLimit:
    """At most :attr:`limit` holders at once. :meth:`throttled` halves the limit (not below
    ``floor``); every ``grow_after`` successes since then add one back, up to ``ceiling``."""

    def __init__(self, ceiling: int, *, floor: int = 1, grow_after: int | None = None) -> None:
        self.ceiling = max(1, ceiling)
        self.floor = max(1, min(floor, self.ceiling))
        self.grow_after = grow_after or self.ceiling
        self._limit = self.ceiling
        self._held = 0
        self._streak = 0
        self.lowest = self.ceiling  # the lowest limit reached (reported by uploads)
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        with self._cond:
            return self._limit

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the slots while the body runs."""
        with self._cond:
            self._cond.wait_for(lambda: self._held < self._limit)
            self._held += 1
        try:
            yield
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def throttled(self) -> None:
        with self._cond:
            self._limit = max(self.floor, self._limit // 2)
            self.lowest = min(self.lowest, self._limit)
            self._streak = 0

    def succeeded(self) -> None:
        with self._cond:
            self._streak += 1
            if self._streak >= self.grow_after and self._limit < self.ceiling:
                self._limit += 1
                self._streak = 0
                self._cond.notify_all()
