"""Long-running Resource Manager operations, polled through the one call/wait layer.

An SDK ``begin_*`` call starts the operation with :class:`Captured` as its polling method: it
keeps the first response and lets the SDK poll nothing. :func:`follow` then polls what that
response names, each poll a call of its own (so a 429 or a 5xx on a status poll is retried,
honouring Retry-After, and a connection error never escapes), the whole wait bounded by time
without progress.

The protocol is Resource Manager's ("Track asynchronous Azure operations",
https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations): an
``Azure-AsyncOperation`` URL answers ``{"status": "InProgress"|"Succeeded"|"Failed"|"Canceled",
"error": {...}}``; otherwise a ``Location`` URL answers 202 while the operation runs and 200 or
204 when it is done; a PUT or PATCH that names neither is done when the resource's
``provisioningState`` is terminal. After a PUT or PATCH succeeds, the resource itself is the
result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest

from lkcloud.errors import LkcloudError
from lkcloud.provider.calls import Calls
from lkcloud_azure.calls import classify, message_of

TERMINAL = frozenset({"succeeded", "failed", "canceled", "cancelled"})
Json = dict[str, Any]


class Captured:
    """An azure-core polling method that keeps an operation's first response and polls nothing."""

    def __init__(self) -> None:
        self.client: Any = None
        self.first: Any = None

    def initialize(self, client: Any, initial_response: Any, deserialization_callback: Any) -> None:
        self.client, self.first = client, initial_response

    def run(self) -> None:
        """Nothing: :func:`follow` polls."""

    def status(self) -> str:
        return "started"

    def finished(self) -> bool:
        return True  # the SDK starts no polling thread

    def resource(self) -> None:
        return None


@dataclass(frozen=True)
class Step:
    """One poll's answer."""

    status: str
    body: Json

    @property
    def done(self) -> bool:
        return self.status.lower() in TERMINAL

    @property
    def marker(self) -> tuple[str, object]:
        return self.status, self.body.get("percentComplete")


def _json(response: Any) -> Json:
    try:
        value = response.json() if response.content else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _state(body: Json) -> str:
    return str(body.get("properties", {}).get("provisioningState") or "Succeeded")


def get(client: Any, url: str) -> Any:
    """GET ``url`` through the client's pipeline (its credential, no retries of its own)."""
    response = client.send_request(HttpRequest("GET", url))
    if response.status_code == 404:
        raise ResourceNotFoundError(response=response)
    if response.status_code >= 400:
        raise HttpResponseError(response=response)
    return response


def _poller(client: Any, first: Any, url: str) -> Any:
    """The poll for this operation: a function returning a :class:`Step`, or None when done."""
    headers = first.http_response.headers
    status_url = headers.get("Azure-AsyncOperation")
    location = headers.get("Location")
    if status_url:
        return lambda: _async_step(client, status_url)
    if location and first.http_response.status_code == 202:
        return lambda: _location_step(client, location)
    if first.http_request.method.upper() in ("PUT", "PATCH") and not Step(_state(_json(first.http_response)),
                                                                          {}).done:
        return lambda: Step(_state(_json(get(client, url))), {})
    return None


def _async_step(client: Any, url: str) -> Step:
    body = _json(get(client, url))
    return Step(str(body.get("status") or "InProgress"), body)


def _location_step(client: Any, url: str) -> Step:
    response = get(client, url)
    return Step("InProgress" if response.status_code == 202 else "Succeeded", _json(response))


def failure(step: Step, what: str) -> LkcloudError:
    message, code = message_of(step.body.get("error") or {"message": f"operation {step.status.lower()}"}, what)
    return classify(message, code, None)


def follow(calls: Calls, what: str, started: Captured, timeout: float) -> Json | None:
    """Poll the operation ``started`` names to its end: the resulting resource (PUT, PATCH), the
    result body (POST), or None (DELETE). A failed operation raises its error as one line."""
    first, client = started.first, started.client
    url = str(first.http_request.url)
    method = first.http_request.method.upper()
    poll = _poller(client, first, url)
    if poll is None:
        body = _json(first.http_response)
        if _state(body).lower() in ("failed", "canceled"):
            raise failure(Step(_state(body), body), what)
        return body or None
    last: Step = calls.wait(what, poll, lambda step: step.done, timeout=timeout, progress=lambda step: step.marker)
    if last.status.lower() != "succeeded":
        raise failure(last, what)
    if method in ("PUT", "PATCH"):
        return _json(calls.call(f"reading the result of {what}", get, client, url))
    if method == "POST":
        location = first.http_response.headers.get("Location")
        if location and first.http_response.headers.get("Azure-AsyncOperation"):
            return _json(calls.call(f"reading the result of {what}", get, client, location)) or None
        return last.body or None
    return None
