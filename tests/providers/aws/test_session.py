"""The AWS error policy on the kit's call layer: what is transient, time budgets, timeouts, regions."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from lkcloud.errors import CredentialsError, ProviderError, TimeoutExceededError, UsageError
from lkcloud.provider.calls import Budget, Calls
from lkcloud_aws.errors import AwsError, AwsErrors
from lkcloud_aws.session import Aws, Tuning
from tests.providers.aws.conftest import Moto
from tests.servers.faultproxy import FaultProxy, Faults


def client_error(code: str, status: int, operation: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


@pytest.mark.parametrize(
    ("exc", "transient", "throttled"),
    [
        (client_error("ThrottlingException", 400), True, True),
        (client_error("RequestThrottledException", 400), True, True),
        (client_error("RequestLimitExceeded", 503), True, True),
        (client_error("500", 500), True, False),
        (client_error("429", 429), True, True),
        (client_error("ValidationException", 400), False, False),
        (client_error("AccessDeniedException", 403), False, False),
        (EndpointConnectionError(endpoint_url="http://x"), True, False),
        (ValueError("x"), False, False),
    ],
)
def test_transient(exc: BaseException, transient: bool, throttled: bool) -> None:
    found = AwsErrors().is_transient(exc)
    assert (found is not None) is transient
    assert bool(found and found.throttled) is throttled


def test_errors_read_as_one_line_with_the_code() -> None:
    error = AwsErrors().to_error(client_error("InvalidAMIName.Duplicate", 400, "RegisterImage"), "registering x")
    assert isinstance(error, AwsError) and error.code == "InvalidAMIName.Duplicate"
    assert error.message == "registering x: RegisterImage failed: InvalidAMIName.Duplicate: m"
    denied = AwsErrors().to_error(client_error("UnauthorizedOperation", 403, "RunInstances"), "")
    assert denied.hint and "IAM permissions" in denied.hint
    assert isinstance(AwsErrors().to_error(client_error("AuthFailure", 401), "x"), CredentialsError)


def test_retries_transient_within_the_budget_then_gives_up() -> None:
    calls: list[int] = []
    layer = Calls(AwsErrors(), Budget(5, backoff=0.001, backoff_max=0.01))

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise client_error("ThrottlingException", 400)
        return "ok"

    assert layer.call("flaky", flaky) == "ok" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise client_error("ServiceUnavailable", 503)

    calls.clear()
    with pytest.raises(ProviderError, match="ServiceUnavailable"):
        layer.call("broken", broken, budget=Budget(0.2, backoff=0.01, backoff_max=0.02))
    assert len(calls) > 1


def test_wait_times_out_naming_what_it_waited_for(aws_env: Moto) -> None:
    aws = Aws("us-east-1", Tuning(poll=0.01, wait=0.05))
    with pytest.raises(TimeoutExceededError, match="waiting for the thing"):
        aws.wait("the thing", lambda: 1, lambda value: value == 2)


def test_region_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(UsageError, match="no AWS region"):
        Aws(None)


def test_sdk_retries_are_off_and_timeouts_set() -> None:
    config = Aws("us-east-1", Tuning(read_timeout=7, connect_timeout=3)).config()
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert (config.read_timeout, config.connect_timeout) == (7, 3)


def test_one_request_per_attempt(aws_env: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    """No SDK retries underneath ours: every attempt of the call layer is one request."""
    with FaultProxy(aws_env.endpoint, Faults(rate=1.0, kinds=("500",), match="^POST /snapshots/completion")) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        aws = Aws("us-east-1", Tuning(retry=0.3))
        calls = []

        def complete() -> object:
            calls.append(1)
            return aws.client("ebs").complete_snapshot(SnapshotId="snap-0123456789abcdef0", ChangedBlocksCount=0)

        with pytest.raises(ProviderError, match="500"):
            aws.call("completing", complete, budget=Budget(3, backoff=0.01, backoff_max=0.05))
        assert proxy.stats["500"] == len(calls) > 1
