"""Waiting on Compute Engine operations.

Never ``ExtendedOperation.result()``: its polling client ignores our client options and calls
compute.googleapis.com. Operations are waited on with the global, regional or zonal operations
client built from the same options as the client that started them.
"""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import compute_v1
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_random_exponential,
)

from lkcloud.errors import ProviderError, TimeoutExceededError
from lkcloud.progress import NULL, Reporter
from lkcloud_gcp.calls import REQUEST_TIMEOUT, TRANSIENT, api_error
from lkcloud_gcp.clients import Api, Clients

DONE = compute_v1.Operation.Status.DONE


def _last(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _poll(clients: Clients, project: str, op: Any) -> Any:
    """One ``operations.wait`` call on the operation's own scope."""
    common = {"project": project, "operation": op.name, "retry": None, "timeout": REQUEST_TIMEOUT}
    if op.zone:
        return clients.zone_operations.wait(zone=_last(op.zone), **common)
    if op.region:
        return clients.region_operations.wait(region=_last(op.region), **common)
    return clients.global_operations.wait(**common)


def _failure(op: Any, what: str) -> ProviderError:
    errors = [f"{e.code}: {e.message}" for e in op.error.errors] or [f"HTTP {op.http_error_status_code}"]
    return ProviderError(f"{what} failed: " + "; ".join(errors))


def wait(api: Api, op: Any, what: str, reporter: Reporter = NULL) -> Any:
    """Wait until ``op`` is DONE; raise its error, or TimeoutExceededError past the deadline."""
    timing = api.config.timing
    reporter.step(f"waiting for {what}")
    policy = Retrying(
        retry=retry_if_result(lambda current: current.status != DONE) | retry_if_exception_type(TRANSIENT),
        stop=stop_after_delay(timing.operation_deadline),
        wait=wait_random_exponential(multiplier=timing.poll_min, max=timing.poll_max),
    )
    try:
        current = op if op.status == DONE else policy(_poll, api.clients, api.project, op)
    except RetryError as exc:
        raise TimeoutExceededError(
            f"{what}: operation {op.name} not done after {timing.operation_deadline:g} s"
        ) from exc
    except gexc.GoogleAPICallError as exc:
        raise api_error(exc, f"waiting for {what}") from exc
    if current.error and current.error.errors:
        raise _failure(current, what)
    return current
