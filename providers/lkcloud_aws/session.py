"""boto3 sessions and clients, and the one retry layer every AWS call goes through.

Credentials and region come from boto3's standard chain; endpoints from ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>``, which botocore honours itself. The SDK's own retries are off
(``total_max_attempts=1``) so that tenacity here is the only retry layer, with per-attempt timeouts
from botocore and an overall deadline from us.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError as BotoConnectTimeoutError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_any,
    wait_fixed,
    wait_random_exponential,
)
from tenacity import RetryError as TenacityRetryError

from lkcloud.errors import CredentialsError, ProviderError, TimeoutExceededError, UsageError

T = TypeVar("T")

TRANSIENT_CODES = frozenset({
    "ThrottlingException", "RequestThrottledException", "Throttling", "ThrottledException",
    "RequestLimitExceeded", "TooManyRequestsException", "SlowDown", "RequestTimeout",
    "InternalError", "InternalFailure", "InternalServerException", "ServiceUnavailable",
    "ServiceUnavailableException", "Unavailable", "EC2ThrottledException", "PriorRequestNotComplete",
})
_CONNECTION_ERRORS = (
    EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, BotoConnectTimeoutError,
    BotoConnectionError, ResponseStreamingError,
)


@dataclass(frozen=True)
class Tuning:
    """Timeouts, retries and parallelism for every AWS call lkcloud makes."""

    concurrency: int = 64
    shards: int = 8
    attempts: int = 6
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 3600.0
    poll: float = 5.0


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError ("" for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_transient(exc: BaseException, extra_codes: Iterable[str] = ()) -> bool:
    """Throttling, 5xx, and connection-level failures: worth another attempt."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        return code in TRANSIENT_CODES or code in extra_codes or _status(exc) >= 500 or _status(exc) == 429
    return isinstance(exc, _CONNECTION_ERRORS)


class Deadline:
    """An overall deadline shared by many calls (monotonic clock)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())


def _stop_at(deadline: Deadline) -> Callable[[RetryCallState], bool]:
    return lambda _state: deadline.left() <= 0


def retrying(tuning: Tuning, deadline: Deadline | None = None, extra_codes: Iterable[str] = ()) -> Retrying:
    """The retry policy: named transient errors only, jittered backoff, attempts and deadline."""
    codes = frozenset(extra_codes)
    stops: list[Any] = [stop_after_attempt(tuning.attempts)]
    if deadline is not None:
        stops.append(_stop_at(deadline))
    return Retrying(
        retry=retry_if_exception(lambda exc: is_transient(exc, codes)),
        wait=wait_random_exponential(multiplier=0.25, max=8),
        stop=stop_any(*stops),
        reraise=True,
    )


def call(policy: Retrying, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """``fn(**kwargs)`` under ``policy``; AWS errors become ProviderError."""
    try:
        return policy(fn, **kwargs)
    except NoCredentialsError as exc:
        raise _no_credentials() from exc
    except ClientError as exc:
        raise provider_error(exc) from exc
    except BotoCoreError as exc:
        raise ProviderError(f"AWS request failed: {exc}") from exc


def provider_error(exc: ClientError, what: str = "") -> ProviderError:
    message = exc.response.get("Error", {}).get("Message", "") or str(exc)
    operation = getattr(exc, "operation_name", "") or "AWS"
    prefix = f"{what}: " if what else ""
    return ProviderError(f"{prefix}{operation} failed: {error_code(exc)}: {message}")


def wait_for(fetch: Callable[[], T], done: Callable[[T], bool], what: str, tuning: Tuning,
             deadline: Deadline | None = None) -> T:
    """Poll ``fetch`` every ``tuning.poll`` seconds until ``done`` (which may raise to fail
    early); TimeoutExceededError after the deadline."""
    limit = deadline or Deadline(tuning.deadline)
    policy = Retrying(
        retry=retry_if_result(lambda value: not done(value)),
        wait=wait_fixed(tuning.poll),
        stop=_stop_at(limit),
    )
    try:
        return policy(fetch)
    except TenacityRetryError:
        raise TimeoutExceededError(
            f"timed out after {limit.seconds:.0f} s waiting for {what}",
            hint="raise aws.deadline (LKCLOUD_AWS_DEADLINE) or check the resource in the console",
        ) from None


def _no_credentials() -> CredentialsError:
    return CredentialsError(
        "no AWS credentials found",
        hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`",
    )


class Aws:
    """boto3 clients for one account: one per (service, region), plus upload shards."""

    def __init__(self, region: str | None, tuning: Tuning | None = None, session: Any = None) -> None:
        self.tuning = tuning or Tuning()
        self.session = session or boto3.Session(region_name=region)
        resolved = region or self.session.region_name
        if not resolved:
            raise UsageError("no AWS region given", hint="pass --region, set aws.region or AWS_REGION")
        self.region: str = resolved
        self._clients: dict[tuple[str, str, int], Any] = {}
        self._lock = threading.Lock()

    def check_credentials(self) -> None:
        """CredentialsError when boto3's chain finds nothing (before any resource is made)."""
        if self.session.get_credentials() is None:
            raise _no_credentials()

    def config(self, pool: int = 10) -> Config:
        return Config(
            region_name=self.region,
            # One attempt: botocore's max_attempts counts retries (max_attempts=1 means two tries).
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.tuning.connect_timeout,
            read_timeout=self.tuning.read_timeout,
            max_pool_connections=pool,
            s3={"addressing_style": "path"},
        )

    def client(self, service: str, region: str | None = None, shard: int = 0, pool: int = 10) -> Any:
        key = (service, region or self.region, shard)
        with self._lock:
            if key not in self._clients:
                config = self.config(pool).merge(Config(region_name=key[1]))
                self._clients[key] = self.session.client(service, config=config)
            return self._clients[key]

    def shards(self, service: str, count: int, in_flight: int) -> list[Any]:
        """``count`` independent clients (own connection pools) for ``in_flight`` parallel calls."""
        pool = max(2, -(-in_flight // max(1, count)) + 2)
        return [self.client(service, shard=index + 1, pool=pool) for index in range(max(1, count))]

    def retrying(self, deadline: Deadline | None = None, extra_codes: Iterable[str] = ()) -> Retrying:
        return retrying(self.tuning, deadline, extra_codes)

    def call(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        return call(self.retrying(), fn, **kwargs)

    def pages(self, fn: Callable[..., Any], key: str, /, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item under ``key`` across NextToken pages, each page under the retry policy."""
        while True:
            page = self.call(fn, **kwargs)
            yield from page.get(key, [])
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]
