"""The one retry layer for GCP API calls, and API errors turned into lkcloud errors.

SDK retries are switched off (``retry=None``) so that retries never stack: a call is retried
here, with a deadline and jittered backoff, only on named transient errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests
from google.api_core import exceptions as gexc
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_random_exponential

from lkcloud.errors import CredentialsError, LkcloudError, ProviderError, UsageError
from lkcloud_gcp.settings import Timing

T = TypeVar("T")

TRANSIENT: tuple[type[BaseException], ...] = (
    gexc.ServiceUnavailable,
    gexc.TooManyRequests,
    gexc.InternalServerError,
    gexc.BadGateway,
    gexc.GatewayTimeout,
    requests.ConnectionError,
    requests.Timeout,
)

REQUEST_TIMEOUT = 120.0


def api_error(exc: gexc.GoogleAPICallError, what: str) -> LkcloudError:
    """A one-line lkcloud error for a refused API call."""
    message = f"{what}: {exc.message or type(exc).__name__}"
    if isinstance(exc, gexc.Unauthorized | gexc.Forbidden):
        return CredentialsError(message, hint="check the credentials' roles in the project (compute.admin, storage)")
    if isinstance(exc, gexc.BadRequest):
        return UsageError(message)
    return ProviderError(message)


def retrying(timing: Timing, also: tuple[type[BaseException], ...] = ()) -> Retrying:
    """The policy for one call: transient errors only (plus ``also``), bounded by attempts
    and a deadline."""
    return Retrying(
        retry=retry_if_exception_type(TRANSIENT + also),
        stop=stop_after_attempt(8) | stop_after_delay(timing.request_deadline),
        wait=wait_random_exponential(multiplier=timing.poll_min, max=timing.poll_max),
        reraise=True,
    )


def _invoke(timing: Timing, what: str, method: Callable[..., T], missing_ok: bool, kwargs: dict[str, Any]) -> T | None:
    try:
        for attempt in retrying(timing):
            with attempt:
                return method(retry=None, timeout=REQUEST_TIMEOUT, **kwargs)
    except gexc.NotFound as exc:
        if missing_ok:
            return None
        raise api_error(exc, what) from exc
    except gexc.GoogleAPICallError as exc:
        raise api_error(exc, what) from exc
    except TRANSIENT as exc:
        raise ProviderError(f"{what}: {exc}", hint="the API kept failing; try again later") from exc
    raise AssertionError("unreachable: tenacity returns or raises")


def call(timing: Timing, what: str, method: Callable[..., T], **kwargs: Any) -> T:
    """``method(**kwargs)`` with our retry policy; API errors become lkcloud errors."""
    result = _invoke(timing, what, method, False, kwargs)
    assert result is not None
    return result


def find(timing: Timing, what: str, method: Callable[..., T], **kwargs: Any) -> T | None:
    """Like :func:`call`, but a missing resource is None."""
    return _invoke(timing, what, method, True, kwargs)


def listing(timing: Timing, what: str, method: Callable[..., Any], **kwargs: Any) -> list[Any]:
    """Every item of a paged list call; all pages are fetched inside one retried attempt."""

    def fetch(**call_kwargs: Any) -> list[Any]:
        return list(method(**call_kwargs))

    return call(timing, what, fetch, **kwargs)
