"""The one call/wait layer every provider stands on: retries with time budgets, and polling.

Providers switch their SDK's own retries off and call through :class:`Calls`. A call is retried
only while its error is transient (the provider's :meth:`ErrorPolicy.is_transient` says so) and
its **time budget** lasts; a budget is time without progress, so an operation that confirms
bytes or advances a state (:meth:`Activity.advanced`) starts its budget again. Throttling backs
off with jitter (and honours a server's Retry-After); everything else that fails becomes the
provider's one-line error (:meth:`ErrorPolicy.to_error`). Waits poll with a deadline that
progress also restarts, and time out with an error naming what they waited for.

tenacity is used here and nowhere in ``providers/``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    retry_if_result,
    wait_exponential,
    wait_fixed,
)

from lkcloud.errors import LkcloudError, TimeoutExceededError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Transient:
    """Why an error is worth another attempt."""

    reason: str  # "throttled", "unavailable", "not visible yet", ...
    throttled: bool = False  # the server asked us to slow down
    retry_after: float | None = None  # seconds the server asked us to wait


class ErrorPolicy(Protocol):
    """What a provider knows about its SDK's errors."""

    def is_transient(self, error: BaseException) -> Transient | None:
        """A :class:`Transient` when ``error`` is worth another attempt, else None."""
        ...

    def to_error(self, error: BaseException, what: str) -> LkcloudError:
        """``error`` as one line for a person, saying what was being done (``what``)."""
        ...


@dataclass(frozen=True)
class Budget:
    """How long one operation may keep failing without progress, and how it backs off."""

    seconds: float = 300.0
    backoff: float = 0.5  # the first wait; it doubles, with full jitter
    backoff_max: float = 20.0

    def scaled(self, seconds: float) -> Budget:
        return Budget(seconds, self.backoff, self.backoff_max)


class Activity:
    """A deadline that progress pushes back: the budget of a long operation (an upload, a
    rollout) counts time since the last progress, not since the start."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def advanced(self) -> None:
        """Progress was made (bytes confirmed, a state advanced): the budget starts again."""
        with self._lock:
            self._last = self._clock()

    def left(self) -> float:
        with self._lock:
            return max(0.0, self._last + self.seconds - self._clock())

    def expired(self) -> bool:
        return self.left() <= 0


def _jitter_wait(budget: Budget, transient: Callable[[BaseException], Transient | None],
                 activity: Activity) -> Callable[[RetryCallState], float]:
    import random

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        found = transient(error) if error is not None else None
        ceiling = min(budget.backoff_max, budget.backoff * 2 ** max(0, state.attempt_number - 1))
        chosen = random.uniform(budget.backoff / 2, max(budget.backoff, ceiling))
        if found is not None and found.retry_after is not None:
            chosen = max(chosen, found.retry_after)  # what the server asked for, within the budget
        return min(chosen, max(0.05, activity.left()))

    return wait


class Calls:
    """Calls and waits for one provider: ``policy`` classifies its errors, ``budget`` is the
    default time budget of one call."""

    def __init__(self, policy: ErrorPolicy, budget: Budget | None = None, *, poll_min: float = 1.0,
                 poll_max: float = 15.0) -> None:
        self.policy = policy
        self.budget = budget or Budget()
        self.poll_min = poll_min
        self.poll_max = poll_max

    def call(self, what: str, fn: Callable[..., T], /, *args: Any, budget: Budget | None = None,
             activity: Activity | None = None, also: Callable[[BaseException], Transient | None] | None = None,
             on_throttle: Callable[[], None] | None = None, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, retried on transient errors (and on what ``also`` names, such
        as "not found" right after a create) until ``budget`` (or the shared ``activity``)
        runs out; other errors, and the last transient one, become the provider's error."""
        chosen = budget or self.budget
        clock = activity or Activity(chosen.seconds)

        def transient(error: BaseException) -> Transient | None:
            found = self.policy.is_transient(error)
            return found if found is not None or also is None else also(error)

        def retryable(error: BaseException) -> bool:
            return transient(error) is not None and not clock.expired()

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            found = transient(error) if error is not None else None
            if found is not None and found.throttled and on_throttle is not None:
                on_throttle()
            log.debug("%s: attempt %d failed (%s: %s); retrying", what, state.attempt_number,
                      found.reason if found else "error", error)

        retrying = Retrying(retry=retry_if_exception(retryable), wait=_jitter_wait(chosen, transient, clock),
                            stop=lambda _state: clock.expired(), before_sleep=before_sleep, reraise=True)
        try:
            return retrying(fn, *args, **kwargs)
        except LkcloudError:
            raise
        except Exception as error:
            raise self.policy.to_error(error, what) from error

    def wait(self, what: str, fetch: Callable[[], T], done: Callable[[T], bool], *, timeout: float,
             progress: Callable[[T], object] | None = None, poll: float | None = None,
             hint: str | None = None) -> T:
        """Poll ``fetch`` until ``done`` (which may raise to fail early). The deadline is
        ``timeout`` seconds without progress: when ``progress(value)`` changes, it starts again.
        TimeoutExceededError names ``what``."""
        activity = Activity(timeout)
        seen: list[object] = []

        def step() -> tuple[bool, T]:
            value = self.call(f"checking {what}", fetch, activity=activity)
            finished = done(value)
            marker = progress(value) if progress is not None else None
            if progress is not None and (not seen or seen[-1] != marker):
                seen.append(marker)
                activity.advanced()
            return finished, value

        pace = wait_fixed(poll) if poll is not None else wait_exponential(multiplier=self.poll_min, max=self.poll_max)

        def pause(state: RetryCallState) -> float:
            return min(pace(state), max(0.0, activity.left()))

        retrying = Retrying(retry=retry_if_result(lambda outcome: not outcome[0]), wait=pause,
                            stop=lambda _state: activity.expired())
        try:
            return retrying(step)[1]
        except RetryError:
            raise TimeoutExceededError(f"timed out after {timeout:g} s waiting for {what}",
                                       hint=hint or "it may still finish: check it in the cloud's console") from None


class NoRetries:
    """The policy of local work (a process, a port, a file): nothing is retried; an error that
    is not already lkcloud's is reported as it is."""

    def is_transient(self, error: BaseException) -> Transient | None:
        return None

    def to_error(self, error: BaseException, what: str) -> LkcloudError:
        return LkcloudError(f"{what}: {error}")


def wait_local(what: str, fetch: Callable[[], T], done: Callable[[T], bool], *, timeout: float,
               poll_min: float = 0.05, poll_max: float = 1.0, poll: float | None = None) -> T:
    """:meth:`Calls.wait` for local state (a VM's console, a process, a health endpoint)."""
    return Calls(NoRetries(), poll_min=poll_min, poll_max=poll_max).wait(what, fetch, done, timeout=timeout,
                                                                          poll=poll)
