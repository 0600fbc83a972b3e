"""GCP's errors for the one call/wait layer (:mod:`lkcloud.provider.calls`), and the three ways
every Compute call is made through it: ``call``, ``find`` (a missing resource is None) and
``listing`` (every page).

The SDK's own retries are off (``retry=None``): a call is retried only by the kit, on the errors
:class:`GcpErrors` names transient, within the call's time budget.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from google.api_core import exceptions as gexc

from lkcloud.errors import CredentialsError, LkcloudError, ProviderError, UsageError
from lkcloud.provider.calls import Activity, Budget, Transient

if TYPE_CHECKING:
    from lkcloud_gcp.clients import Api

T = TypeVar("T")

REQUEST_TIMEOUT = 120.0  # seconds for one HTTP request
UNAVAILABLE: tuple[type[BaseException], ...] = (
    gexc.ServiceUnavailable, gexc.InternalServerError, gexc.BadGateway, gexc.GatewayTimeout,
)
CONNECTION: tuple[type[BaseException], ...] = (requests.ConnectionError, requests.Timeout)
# A 403 with one of these reasons is a spent rate quota, not missing permissions: wait and retry.
# https://cloud.google.com/compute/api-quota, https://cloud.google.com/compute/operations-quota
RATE_LIMITED = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RESOURCE_OPERATION_RATE_EXCEEDED"})
_REST_PREFIX = re.compile(r"^[A-Z]+ \S+: ")  # google-api-core puts "METHOD URL: " before the message


def _retry_after(error: gexc.GoogleAPICallError) -> float | None:
    response = getattr(error, "response", None)
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    try:
        return float(value) if value else None
    except ValueError:
        return None


def reasons(error: gexc.GoogleAPICallError) -> set[str]:
    """The reasons an API error gives: each of its ``errors`` and its ErrorInfo."""
    found = {str(item.get("reason", "")) for item in error.errors or () if isinstance(item, dict)}
    return found | ({str(error.reason)} if error.reason else set())


def message_of(error: gexc.GoogleAPICallError) -> str:
    return _REST_PREFIX.sub("", str(error.message or type(error).__name__))


class GcpErrors:
    """Which Google API errors are worth another attempt, and each as one line."""

    def is_transient(self, error: BaseException) -> Transient | None:
        if isinstance(error, gexc.TooManyRequests) or (isinstance(error, gexc.Forbidden)
                                                        and reasons(error) & RATE_LIMITED):
            return Transient("throttled", throttled=True, retry_after=_retry_after(error))
        if isinstance(error, UNAVAILABLE):
            return Transient("unavailable")
        if isinstance(error, CONNECTION):
            return Transient("connection failed")
        return None

    def to_error(self, error: BaseException, what: str) -> LkcloudError:
        if isinstance(error, gexc.GoogleAPICallError):
            message = f"{what}: {message_of(error)}"
            if isinstance(error, gexc.Unauthorized | gexc.Forbidden):
                return CredentialsError(message, hint="check the credentials' roles in the project (see the README)")
            if isinstance(error, gexc.BadRequest):
                return UsageError(message)
            return ProviderError(message)
        if isinstance(error, CONNECTION):
            return ProviderError(f"{what}: {error}", hint="the API kept failing; try again later")
        return ProviderError(f"{what}: {type(error).__name__}: {error}")


def request_id() -> str:
    """A fresh id for one logical request. GCE answers a repeated id with the operation it
    first started (for an hour), so an id is reused only by the retries of that same call (the
    kit retries with the same request object), never derived from content: deleting something
    and making it again is a new request."""
    return str(uuid.uuid4())


def call(api: Api, what: str, method: Callable[..., T], *, budget: Budget | None = None,
         activity: Activity | None = None, **kwargs: Any) -> T:
    """``method(**kwargs)`` through the kit's retries; API errors become lkcloud errors."""
    return api.calls.call(what, method, budget=budget, activity=activity, retry=None, timeout=REQUEST_TIMEOUT,
                          **kwargs)


def find(api: Api, what: str, method: Callable[..., T], **kwargs: Any) -> T | None:
    """Like :func:`call`, but a missing resource is None."""

    def attempt() -> T | None:
        try:
            return method(retry=None, timeout=REQUEST_TIMEOUT, **kwargs)
        except gexc.NotFound:
            return None

    return api.calls.call(what, attempt)


def listing(api: Api, what: str, method: Callable[..., Any], **kwargs: Any) -> list[Any]:
    """Every item of a paged list call; all pages are fetched inside one retried attempt."""

    def attempt() -> list[Any]:
        return list(method(retry=None, timeout=REQUEST_TIMEOUT, **kwargs))

    return api.calls.call(what, attempt)
