"""The one retry layer for Azure calls, and Azure errors turned into lkcloud errors.

The SDK's own retries are off (``retry_total=0`` on every client), so retries never stack:
a call is retried here, with a deadline and jittered backoff, only on throttling, 5xx and
connection errors. Long-running operations are started through the same layer and then
followed by the SDK's poller, bounded by the deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from lkcloud.errors import CredentialsError, LkcloudError, ProviderError, TimeoutExceededError, UsageError
from lkcloud_azure.settings import Timing

T = TypeVar("T")
THROTTLED = 429
NOT_FOUND_CODES = frozenset({"ResourceNotFound", "NotFound", "ResourceGroupNotFound", "ParentResourceNotFound"})
BAD_INPUT_CODES = frozenset({"InvalidParameter", "InvalidRequestContent", "BadRequest", "InvalidTemplate",
                             "SkuNotAvailable", "LocationNotAvailableForResourceType", "InvalidResourceName"})


def error_code(exc: HttpResponseError) -> str:
    """The ARM error code of a refused call (``ResourceGroupNotFound``), else ``""``."""
    error = getattr(exc, "error", None)
    return str(getattr(error, "code", "") or "")


def is_transient(exc: BaseException) -> bool:
    """Throttling, server errors and connection failures: worth another attempt."""
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(exc, HttpResponseError) and not isinstance(exc, ClientAuthenticationError):
        status = exc.status_code or 0
        return status == THROTTLED or status >= 500
    return False


def retrying(timing: Timing) -> Retrying:
    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(timing.attempts) | stop_after_delay(timing.request_deadline),
        wait=wait_random_exponential(multiplier=timing.backoff, max=timing.backoff_max),
        reraise=True,
    )


def api_error(exc: HttpResponseError, what: str) -> LkcloudError:
    """A one-line lkcloud error for a refused call."""
    code = error_code(exc)
    detail = getattr(getattr(exc, "error", None), "message", None) or exc.reason or type(exc).__name__
    message = f"{what}: {detail}" + (f" ({code})" if code else "")
    if code == "ResourceGroupNotFound":
        return UsageError(message, hint="create it (az group create -n GROUP -l LOCATION) or pass --resource-group")
    if isinstance(exc, ClientAuthenticationError) or exc.status_code in (401, 403):
        return CredentialsError(message, hint="the credentials need Contributor on the resource group")
    if code in BAD_INPUT_CODES or exc.status_code == 400:
        return UsageError(message)
    return ProviderError(message)


def call(timing: Timing, what: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``method(*args, **kwargs)`` under the retry policy; Azure errors become lkcloud errors."""
    try:
        for attempt in retrying(timing):
            with attempt:
                return method(*args, **kwargs)
    except HttpResponseError as exc:
        raise api_error(exc, what) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise ProviderError(f"{what}: {exc}", hint="Azure kept failing; try again later") from exc
    raise AssertionError("unreachable")


def find(timing: Timing, what: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Like :func:`call`, but a missing resource (not a missing resource group) is None."""
    try:
        return call(timing, what, _raising_missing(method), *args, **kwargs)
    except _Missing:
        return None


class _Missing(Exception):
    pass


def _raising_missing(method: Callable[..., T]) -> Callable[..., T]:
    def wrapped(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except ResourceNotFoundError as exc:
            if error_code(exc) == "ResourceGroupNotFound":
                raise
            raise _Missing() from exc

    return wrapped


def wait(timing: Timing, what: str, begin: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Start a long-running operation (retried like any call) and follow it to its end."""
    poller = call(timing, what, begin, *args, polling_interval=timing.poll, **kwargs)
    try:
        result = poller.result(timeout=timing.deadline)
    except HttpResponseError as exc:
        raise api_error(exc, what) from exc
    if not poller.done():
        raise TimeoutExceededError(f"{what}: not finished after {timing.deadline:g} s")
    return result
