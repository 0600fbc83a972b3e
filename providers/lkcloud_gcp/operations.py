"""Waiting on Compute Engine operations, through the one call/wait layer.

Never ``ExtendedOperation.result()``: its polling client ignores our client options and calls
compute.googleapis.com. Operations are waited on with the global, regional or zonal operations
client built from the same options as the client that started them.
"""

from __future__ import annotations

from typing import Any

from google.cloud import compute_v1

from lkcloud.errors import ProviderError
from lkcloud.progress import NULL, Reporter
from lkcloud_gcp.clients import Api, Clients

DONE = compute_v1.Operation.Status.DONE
# operations.wait answers after at most two minutes (done or not); the client must wait longer.
# https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations/wait
WAIT_TIMEOUT = 150.0


def last(url: str) -> str:
    """The last segment of a resource URL (its name)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def _poll(clients: Clients, project: str, op: Any) -> Any:
    """One ``operations.wait`` call on the operation's own scope."""
    common = {"project": project, "operation": op.name, "retry": None, "timeout": WAIT_TIMEOUT}
    if op.zone:
        return clients.zone_operations.wait(zone=last(op.zone), **common)
    if op.region:
        return clients.region_operations.wait(region=last(op.region), **common)
    return clients.global_operations.wait(**common)


class OperationFailedError(ProviderError):
    """An operation finished with an error."""


def failure(op: Any, what: str) -> OperationFailedError:
    errors = [f"{e.code}: {e.message}" for e in op.error.errors] or [f"HTTP {op.http_error_status_code}"]
    return OperationFailedError(f"{what} failed: " + "; ".join(errors))


def wait(api: Api, op: Any, what: str, reporter: Reporter = NULL) -> Any:
    """Wait until ``op`` is DONE; raise its error, or TimeoutExceededError past the deadline."""
    reporter.step(f"waiting for {what}")
    current = op
    if op.status != DONE:
        current = api.calls.wait(f"{what} (operation {op.name})", lambda: _poll(api.clients, api.project, op),
                                 lambda found: found.status == DONE, timeout=api.config.budgets.operation,
                                 progress=lambda found: (found.status, found.progress))
    if current.error and current.error.errors:
        raise failure(current, what)
    return current
