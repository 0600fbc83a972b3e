"""What lkcloud knows about Azure's errors: which are worth another attempt, and each as one line
for a person. Every call goes through one :class:`lkcloud.provider.calls.Calls` with this policy
(the SDK clients' own retries are off, ``retry_total=0``).

Throttling is 429 with a ``Retry-After`` header, and 5xx is a server's passing failure (Azure
Resource Manager, "Throttling Resource Manager requests" and "Troubleshoot common Azure
deployment errors"); connection errors are retried too.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from lkcloud.errors import CredentialsError, LkcloudError, ProviderError, UsageError
from lkcloud.provider.calls import Calls, Transient

T = TypeVar("T")
THROTTLED = 429
GROUP_MISSING = "ResourceGroupNotFound"
BAD_INPUT_CODES = frozenset({"InvalidParameter", "InvalidRequestContent", "BadRequest", "InvalidTemplate",
                             "SkuNotAvailable", "LocationNotAvailableForResourceType", "InvalidResourceName",
                             "OperationNotAllowed", "PropertyChangeNotAllowed"})
ROLE_HINT = "the credentials need Contributor on the resource group"
DATA_ROLE = "Storage Blob Data Contributor"
DATA_CODES = frozenset({"AuthorizationPermissionMismatch", "AuthorizationFailure"})  # Blob storage's 403s


class DataRoleMissing(CredentialsError):
    """Blob storage refused Entra ID credentials: they lack a data-plane role."""


def error_code(exc: BaseException) -> str:
    """The error code of a refused call (``ResourceGroupNotFound``, ``AuthorizationPermissionMismatch``);
    Blob storage's known codes arrive as ``StorageErrorCode`` members, spelled by their value."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", "") or getattr(exc, "error_code", "") or ""
    return str(code.value if isinstance(code, Enum) else code)


def retry_after(exc: HttpResponseError) -> float | None:
    """The seconds a ``Retry-After`` header asks for, if any."""
    headers = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


def message_of(error: dict[str, Any] | None, what: str) -> tuple[str, str]:
    """``what: message (Code)`` for an ARM error object, and its code."""
    error = error or {}
    code = str(error.get("code") or "")
    detail = str(error.get("message") or "failed")
    return f"{what}: {detail}" + (f" ({code})" if code else ""), code


def classify(message: str, code: str, status: int | None, hint: str | None = None) -> LkcloudError:
    if code == GROUP_MISSING:
        return UsageError(message, hint="create it (az group create -n GROUP -l LOCATION) or pass --resource-group")
    if status in (401, 403) or code in ("AuthorizationFailed", "InvalidAuthenticationToken"):
        return CredentialsError(message, hint=hint or ROLE_HINT)
    if code in BAD_INPUT_CODES or status == 400:
        return UsageError(message, hint=hint)
    return ProviderError(message, hint=hint)


class AzureErrors:
    """The :class:`~lkcloud.provider.calls.ErrorPolicy` of every Azure call."""

    def is_transient(self, error: BaseException) -> Transient | None:
        if isinstance(error, ServiceRequestError | ServiceResponseError):
            return Transient("connection failed")
        if isinstance(error, HttpResponseError) and not isinstance(error, ClientAuthenticationError):
            status = error.status_code or 0
            if status == THROTTLED:
                return Transient("throttled", throttled=True, retry_after=retry_after(error))
            if status >= 500:
                return Transient(f"server error {status}", retry_after=retry_after(error))
        return None

    def to_error(self, error: BaseException, what: str) -> LkcloudError:
        if isinstance(error, ServiceRequestError | ServiceResponseError):
            return ProviderError(f"{what}: {error}", hint="Azure kept failing; try again later")
        if isinstance(error, HttpResponseError):
            odata = getattr(error, "error", None)
            detail = getattr(odata, "message", None) or error.reason or type(error).__name__
            code = error_code(error)
            message = f"{what}: {detail}" + (f" ({code})" if code else "")
            if code in DATA_CODES:
                return DataRoleMissing(message, hint=f"the credentials need {DATA_ROLE} on the storage account "
                                                     "(Contributor has no data actions)")
            return classify(message, code, error.status_code)
        return ProviderError(f"{what}: {type(error).__name__}: {error}")


def missing(error: BaseException) -> bool:
    """A resource that is not there (but not a missing resource group, which is the user's)."""
    return isinstance(error, ResourceNotFoundError) and error_code(error) != GROUP_MISSING


def find(calls: Calls, what: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None:
    """``fn(*args, **kwargs)`` through ``calls``; a missing resource is None."""

    def attempt() -> T | None:
        try:
            return fn(*args, **kwargs)
        except ResourceNotFoundError as exc:
            if not missing(exc):
                raise
            return None

    return calls.call(what, attempt)
