"""One AWS account and region: the boto3 session, its clients, and the calls made through them.

Credentials come from boto3's standard chain (or ``--profile``); endpoints from
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, which botocore honours itself. The SDK's
own retries are off (``total_max_attempts=1``): every call goes through the kit's
:class:`~lkcloud.provider.calls.Calls` with the AWS error policy, which retries with time budgets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from lkcloud.errors import UsageError
from lkcloud.provider.calls import Activity, Budget, Calls, Transient
from lkcloud_aws.errors import AwsErrors, ForeignResponse, base_url, error_code, is_foreign, no_credentials

T = TypeVar("T")


@dataclass(frozen=True)
class Tuning:
    """Timeouts, time budgets and parallelism of the calls lkcloud makes to AWS (seconds)."""

    concurrency: int = 64
    shards: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retry: float = 120.0  # one call: throttling, 5xx, dropped connections
    not_found: float = 150.0  # a resource just created may stay invisible this long
    iam: float = 60.0  # a role just created may stay unusable this long
    inactivity: float = 600.0  # an upload that confirms nothing for this long fails
    wait: float = 3600.0  # a wait that sees no progress for this long fails
    refresh_margin: float = 900.0  # added to a refresh's warmups and checkpoint pauses
    poll: float = 5.0


def missing_profile(exc: ProfileNotFound) -> UsageError:
    name = exc.kwargs.get("profile", "")
    return UsageError(f"AWS profile {name!r} not found", hint="see `aws configure list-profiles`; --profile or"
                      " AWS_PROFILE names a profile of ~/.aws/config (AWS_CONFIG_FILE)")


def not_found(*codes: str, until: float | None = None) -> Callable[[BaseException], Transient | None]:
    """``also`` for a call made right after a create: these codes mean "not visible yet" (until
    the monotonic time ``until``, when given)."""
    wanted = frozenset(codes)

    def transient(error: BaseException) -> Transient | None:
        if error_code(error) not in wanted or (until is not None and time.monotonic() >= until):
            return None
        return Transient("not visible yet")

    return transient


class Aws:
    """boto3 clients for one account and region (one per service and region, plus upload shards),
    and the one :class:`Calls` every request goes through."""

    def __init__(self, region: str | None, tuning: Tuning | None = None, *, profile: str | None = None,
                 session: Any = None) -> None:
        self.tuning = tuning or Tuning()
        try:
            self.session = session or boto3.Session(profile_name=profile, region_name=region)
            resolved = region or self.session.region_name
        except ProfileNotFound as exc:
            raise missing_profile(exc) from None
        if not resolved:
            raise UsageError("no AWS region given", hint="pass --region, or set AWS_REGION or aws.region")
        self.region: str = resolved
        self.answered: set[str] = set()  # endpoints that have answered as AWS does
        self.calls = Calls(AwsErrors(lambda endpoint: endpoint in self.answered), Budget(self.tuning.retry),
                           poll_min=self.tuning.poll, poll_max=max(self.tuning.poll, 15.0))
        self._clients: dict[tuple[str, str, int], Any] = {}
        self._lock = threading.Lock()

    def check_credentials(self) -> None:
        """CredentialsError when boto3's chain finds nothing (before any resource is made, and
        before anything is built)."""
        try:
            found = self.session.get_credentials()
        except ProfileNotFound as exc:
            raise missing_profile(exc) from None
        if found is None:
            raise no_credentials()

    def endpoint(self, service: str = "ec2", region: str | None = None) -> str:
        """The URL ``service`` is reached at (AWS's, or AWS_ENDPOINT_URL's)."""
        return base_url(str(self.client(service, region).meta.endpoint_url))

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
                client = self.session.client(service, config=config)
                client.meta.events.register("before-parse", self._checker(base_url(client.meta.endpoint_url)))
                self._clients[key] = client
            return self._clients[key]

    def _checker(self, endpoint: str) -> Callable[..., None]:
        """A botocore ``before-parse`` handler: an answer that cannot be AWS's (an HTML page, a body
        that is not the protocol's) is ForeignResponse, one clear line, never a parser error; any
        other answer marks ``endpoint`` as one that answers."""

        def check(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
            if is_foreign(operation_model, response_dict):
                headers = response_dict.get("headers") or {}
                raise ForeignResponse(endpoint, int(response_dict.get("status_code") or 0),
                                      str(headers.get("content-type", "")).split(";")[0])
            self.answered.add(endpoint)

        return check

    def shards(self, service: str, count: int, in_flight: int) -> list[Any]:
        """``count`` independent clients (own connection pools) for ``in_flight`` parallel calls."""
        pool = max(2, -(-in_flight // max(1, count)) + 2)
        return [self.client(service, shard=index + 1, pool=pool) for index in range(max(1, count))]

    def call(self, what: str, fn: Callable[..., T], /, *, budget: Budget | None = None,
             activity: Activity | None = None, also: Callable[[BaseException], Transient | None] | None = None,
             fresh: tuple[str, ...] = (), on_throttle: Callable[[], None] | None = None, **kwargs: Any) -> T:
        """``fn(**kwargs)`` through the one call layer (see :meth:`Calls.call`). ``fresh`` names
        the "not found" codes of a resource just created: they are retried for the not-found
        budget (EC2 and EBS are eventually consistent)."""
        if fresh:
            also = not_found(*fresh)
            budget = budget or self.calls.budget.scaled(max(self.tuning.retry, self.tuning.not_found))
        return self.calls.call(what, fn, budget=budget, activity=activity, also=also, on_throttle=on_throttle,
                               **kwargs)

    def wait(self, what: str, fetch: Callable[[], T], done: Callable[[T], bool], *, timeout: float | None = None,
             progress: Callable[[T], object] | None = None, hint: str | None = None) -> T:
        """Poll ``fetch`` until ``done``; ``timeout`` seconds without progress (see :meth:`Calls.wait`)."""
        return self.calls.wait(what, fetch, done, timeout=timeout or self.tuning.wait, progress=progress,
                               poll=self.tuning.poll, hint=hint)

    def pages(self, what: str, fn: Callable[..., Any], key: str, /, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item under ``key`` across NextToken pages, each page one call."""
        while True:
            page = self.call(what, fn, **kwargs)
            yield from page.get(key, [])
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]
