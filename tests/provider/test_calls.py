"""The one call/wait layer: time budgets, progress restarting them, throttling, errors for people."""

from __future__ import annotations

import time

import pytest

from lkcloud.errors import LkcloudError, ProviderError, TimeoutExceededError
from lkcloud.provider.calls import Activity, Budget, Calls, Transient
from lkcloud.provider.concurrency import AdaptiveLimit


class Flaky(Exception):
    pass


class Throttled(Exception):
    retry_after: float | None = None


class Policy:
    def is_transient(self, error: BaseException) -> Transient | None:
        if isinstance(error, Throttled):
            return Transient("throttled", throttled=True, retry_after=error.retry_after)
        return Transient("flaky") if isinstance(error, Flaky) else None

    def to_error(self, error: BaseException, what: str) -> LkcloudError:
        return ProviderError(f"{what}: {type(error).__name__}")


FAST = Budget(seconds=2.0, backoff=0.01, backoff_max=0.02)


def failing(times: int, error: type[Exception] = Flaky) -> object:
    left = [times]

    def fn() -> str:
        if left[0] > 0:
            left[0] -= 1
            raise error()
        return "ok"

    return fn


def test_transient_errors_are_retried_until_success() -> None:
    assert Calls(Policy(), FAST).call("listing", failing(5)) == "ok"  # type: ignore[arg-type]


def test_other_errors_become_one_line_at_once() -> None:
    calls = [0]

    def fn() -> None:
        calls[0] += 1
        raise KeyError("x")

    with pytest.raises(ProviderError, match=r"^creating x: KeyError$"):
        Calls(Policy(), FAST).call("creating x", fn)
    assert calls == [1]


def test_the_budget_is_time_not_attempts() -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match="polling: Flaky"):
        Calls(Policy(), Budget(seconds=0.3, backoff=0.01, backoff_max=0.02)).call("polling", failing(10**9))
    assert time.monotonic() - started >= 0.3  # many more than a handful of attempts fit in it


def test_also_makes_more_errors_transient_for_one_call() -> None:
    calls = Calls(Policy(), FAST)
    with pytest.raises(ProviderError):
        calls.call("put", failing(2, KeyError))
    found = calls.call("put", failing(2, KeyError),
                       also=lambda e: Transient("not visible yet") if isinstance(e, KeyError) else None)
    assert found == "ok"


def test_throttling_calls_back_and_honours_retry_after() -> None:
    seen: list[str] = []

    class Slow(Throttled):
        retry_after = 0.2

    started = time.monotonic()
    assert Calls(Policy(), FAST).call("put", failing(1, Slow), on_throttle=lambda: seen.append("slow")) == "ok"
    assert seen == ["slow"] and time.monotonic() - started >= 0.2


def test_a_shared_activity_restarts_with_progress() -> None:
    activity = Activity(0.3)
    time.sleep(0.2)
    activity.advanced()
    time.sleep(0.2)
    assert not activity.expired()  # 0.4 s since the start, 0.2 s since progress
    time.sleep(0.15)
    assert activity.expired()


def test_wait_polls_until_done() -> None:
    values = iter([1, 2, 3])
    assert Calls(Policy(), FAST, poll_min=0.01).wait("the count", lambda: next(values), lambda v: v == 3,
                                                     timeout=5) == 3


def test_wait_times_out_naming_what_it_waited_for() -> None:
    with pytest.raises(TimeoutExceededError, match=r"timed out after 0\.2 s waiting for snapshot snap-1"):
        Calls(Policy(), FAST, poll_min=0.01).wait("snapshot snap-1", lambda: "pending", lambda v: False, timeout=0.2)


def test_wait_deadline_restarts_when_the_state_advances() -> None:
    clock = [0]

    def fetch() -> int:
        clock[0] += 1
        return clock[0]

    # Each poll advances the state: the 0.2 s deadline never runs out before the 40th poll.
    found = Calls(Policy(), FAST, poll_min=0.02).wait("progress", fetch, lambda v: v >= 40, timeout=0.2,
                                                      progress=lambda v: v, poll=0.02)
    assert found == 40


def test_wait_can_fail_early() -> None:
    def done(value: str) -> bool:
        raise ProviderError(f"import failed: {value}")

    with pytest.raises(ProviderError, match="import failed: error"):
        Calls(Policy(), FAST).wait("import", lambda: "error", done, timeout=5)


def test_adaptive_limit_halves_on_throttling_and_grows_back() -> None:
    limit = AdaptiveLimit(8, grow_after=2)
    limit.throttled()
    limit.throttled()
    assert limit.limit == 2 and limit.lowest == 2
    for _ in range(4):
        limit.succeeded()
    assert limit.limit == 4
    for _ in range(10):
        limit.throttled()
    assert limit.limit == 1
    with limit.slot():
        pass
