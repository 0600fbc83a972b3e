"""What lkcloud knows about AWS's errors: which are worth another attempt, and how each reads as
one line for a person (the kit's :class:`~lkcloud.provider.calls.ErrorPolicy`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError as BotoConnectTimeoutError

from lkcloud.errors import CredentialsError, LkcloudError, ProviderError
from lkcloud.provider.calls import Transient

THROTTLED = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "RequestThrottled",
    "RequestLimitExceeded", "TooManyRequestsException", "SlowDown", "EC2ThrottledException",
    "ProvisionedThroughputExceededException", "BandwidthLimitExceeded",
    "ConcurrentLimitExceededException",  # EBS direct: too many requests at once
})
UNAVAILABLE = frozenset({
    "InternalError", "InternalFailure", "InternalServerError", "InternalServerException", "ServiceUnavailable",
    "ServiceUnavailableException", "Unavailable", "PriorRequestNotComplete", "RequestTimeout",
    "RequestTimeoutException", "IDPCommunicationError",
})
CREDENTIALS = frozenset({
    "AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken",
    "ExpiredTokenException", "InvalidAccessKeyId", "RequestExpired", "InvalidToken",
})
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess",
                    "AuthorizationError"})
_CONNECTION = (EndpointConnectionError, BotoConnectionError, HTTPClientError)
_NO_ANSWER = (EndpointConnectionError, BotoConnectTimeoutError, ReadTimeoutError)


class AwsError(ProviderError):
    """An AWS API error: ``code`` is AWS's error code ("" when there was no answer)."""

    def __init__(self, message: str, *, code: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class ForeignResponse(Exception):
    """An HTTP answer that did not come from AWS (a proxy's page, another server's 404)."""

    def __init__(self, endpoint: str, status: int, content_type: str) -> None:
        super().__init__(f"{endpoint} answered HTTP {status} ({content_type or 'no content type'})")
        self.endpoint, self.status, self.content_type = endpoint, status, content_type


_JSON = ("json", "rest-json")


def is_foreign(operation_model: Any, response: dict[str, Any]) -> bool:
    """Whether an HTTP answer cannot be the AWS API's: an HTML page, or a body that is not the
    protocol's (JSON for JSON APIs, XML for the others). Streamed successes are not looked at."""
    status = int(response.get("status_code") or 0)
    body = response.get("body")
    streamed = status < 300 and operation_model.has_streaming_output
    if streamed or not isinstance(body, bytes | bytearray):
        return False
    head = bytes(body[:256]).lstrip()
    if not head:
        return False
    if head[:14].lower().startswith((b"<!doctype html", b"<html")):
        return True
    if operation_model.metadata.get("protocol") in _JSON:
        return head[:1] not in (b"{", b"[")
    return head[:1] != b"<"


def error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError ("" for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    if isinstance(error, AwsError):
        return error.code
    return ""


def base_url(url: str) -> str:
    """``scheme://host[:port]`` of a request URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def endpoint_of(error: BaseException) -> str:
    found = getattr(error, "kwargs", {}).get("endpoint_url") if isinstance(error, BotoCoreError) else None
    return base_url(str(found)) if found else ""


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _retry_after(error: ClientError) -> float | None:
    value = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class AwsErrors:
    """The AWS error policy. ``answered(endpoint)`` says whether an endpoint has answered yet:
    before it has, no answer at all (refused, timed out) is not retried, so a wrong or dead
    endpoint is one clear line after one bounded try rather than minutes of silence."""

    def __init__(self, answered: Callable[[str], bool] | None = None) -> None:
        self.answered = answered or (lambda _endpoint: True)

    def is_transient(self, error: BaseException) -> Transient | None:
        if isinstance(error, ClientError):
            code, status = error_code(error), _status(error)
            if code in THROTTLED or status == 429:
                return Transient("throttled", throttled=True, retry_after=_retry_after(error))
            if code in UNAVAILABLE or status >= 500:
                return Transient("unavailable")
            return None
        if isinstance(error, _NO_ANSWER) and not self.answered(endpoint_of(error)):
            return None
        if isinstance(error, _CONNECTION):
            return Transient("connection dropped")
        return None

    def to_error(self, error: BaseException, what: str) -> LkcloudError:
        prefix = f"{what}: " if what else ""
        if isinstance(error, NoCredentialsError):
            return no_credentials()
        if isinstance(error, ForeignResponse):
            return ProviderError(f"{prefix}{error}, not an AWS API answer",
                                 hint="check AWS_ENDPOINT_URL, the region and any HTTP proxy in between")
        if isinstance(error, ClientError):
            return client_error(error, prefix)
        if isinstance(error, _NO_ANSWER):
            where = endpoint_of(error) or "the AWS endpoint"
            return AwsError(f"{prefix}no answer from {where} ({type(error).__name__})",
                            hint="check the network, the region and AWS_ENDPOINT_URL")
        if isinstance(error, ConnectionClosedError | BotoCoreError):
            return AwsError(f"{prefix}AWS request failed: {error}")
        return ProviderError(f"{prefix}{type(error).__name__}: {error}")


def client_error(error: ClientError, prefix: str = "") -> LkcloudError:
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", "") or error).splitlines()[0] if str(error) else ""
    operation = getattr(error, "operation_name", "") or "AWS"
    line = f"{prefix}{operation} failed: {code}: {message}".rstrip(": ")
    if code in CREDENTIALS:
        return CredentialsError(line, hint="check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, `aws sso login`)")
    hint = (f"the credentials lack permission for {operation}: see 'IAM permissions' in the README"
            if code in DENIED else None)
    return AwsError(line, code=code, hint=hint)


def no_credentials() -> CredentialsError:
    return CredentialsError(
        "no AWS credentials found",
        hint="set AWS_PROFILE (or --profile) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`",
    )
