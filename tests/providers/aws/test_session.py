"""The one retry layer: what is transient, per-attempt limits, deadlines, regions and credentials."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from lkcloud.errors import ProviderError, TimeoutExceededError, UsageError
from lkcloud_aws.session import Aws, Deadline, Tuning, call, is_transient, retrying, wait_for
from tests.providers.aws.conftest import Moto
from tests.servers.faultproxy import FaultProxy, Faults


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (client_error("ThrottlingException", 400), True),
        (client_error("RequestThrottledException", 400), True),
        (client_error("RequestLimitExceeded", 503), True),
        (client_error("500", 500), True),
        (client_error("429", 429), True),
        (client_error("ValidationException", 400), False),
        (client_error("AccessDeniedException", 403), False),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (ValueError("x"), False),
    ],
)
def test_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_retries_transient_then_gives_up_with_provider_error() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise client_error("ThrottlingException", 400)
        return "ok"

    assert call(retrying(Tuning(attempts=5)), flaky) == "ok" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise client_error("ServiceUnavailable", 503)

    calls.clear()
    with pytest.raises(ProviderError, match="ServiceUnavailable"):
        call(retrying(Tuning(attempts=3)), broken)
    assert len(calls) == 3


def test_deadline_stops_retries() -> None:
    calls = []

    def slow() -> None:
        calls.append(1)
        raise client_error("InternalError", 500)

    with pytest.raises(ProviderError):
        call(retrying(Tuning(attempts=1000), Deadline(0.0)), slow)
    assert len(calls) == 1


def test_wait_for_times_out() -> None:
    with pytest.raises(TimeoutExceededError, match="waiting for the thing"):
        wait_for(lambda: 1, lambda value: value == 2, "the thing", Tuning(poll=0.01, deadline=0.05))


def test_region_is_required(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(UsageError, match="no AWS region"):
        Aws(None)


def test_sdk_retries_are_off_and_timeouts_set(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Aws("us-east-1", Tuning(read_timeout=7, connect_timeout=3)).config()
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert (config.read_timeout, config.connect_timeout) == (7, 3)


def test_one_request_per_attempt(aws_env: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    """No SDK retries underneath ours: a 500 with attempts=2 reaches the server exactly twice."""
    with FaultProxy(aws_env.endpoint, Faults(rate=1.0, kinds=("500",), match="^POST /snapshots/completion")) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        aws = Aws("us-east-1", Tuning(attempts=2))
        with pytest.raises(ProviderError, match="500"):
            aws.call(aws.client("ebs").complete_snapshot, SnapshotId="snap-0123456789abcdef0", ChangedBlocksCount=0)
        assert proxy.stats["500"] == 2
