"""A small stateful fake of the Compute Engine REST API (v1), for the real google-cloud-compute
client with ``transport="rest"``, that behaves as Google documents where lkcloud depends on it.

Resources: images (with family lookup and deprecation), instances (with serial port output),
instance templates, HTTP health checks, firewall rules, and regional managed instance groups
(insert, patch, resize, delete, listManagedInstances); every mutation returns an operation.
Every request is recorded (:attr:`FakeCompute.requests`) for assertions.

Behaviours modelled (the knobs that make slow states fast in tests are attributes):

- Operations run for a while (``operation_seconds``; ``hold_operations`` keeps them RUNNING) and
  ``operations.wait`` holds the request until the operation is DONE or the two-minute hold passes
  (``wait_hold``). "This method waits for no more than the 2 minutes and then returns the current
  state of the operation, which might be DONE or still in progress."
  https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations/wait
- Request ids: "the server will know to ignore the request if it has already been completed. The
  server will guarantee that for at least 60 minutes since the first request": a repeated
  ``requestId`` returns the original operation and does nothing (``request_id_ttl``; ``clock``
  moves the fake's time). https://cloud.google.com/compute/docs/reference/rest/v1/images/insert
- Rate quotas: each quota group allows so many requests per synchronized interval; beyond it a
  403 with the quota's reason (``rateLimitExceeded``, ``userRateLimitExceeded``, or
  ``RESOURCE_OPERATION_RATE_EXCEEDED`` for too frequent operations on one resource).
  https://cloud.google.com/compute/api-quota and https://cloud.google.com/compute/operations-quota
- Images are PENDING while their import runs (``image_seconds``), then READY, or FAILED when the
  import fails (``fail_next_image``). https://cloud.google.com/compute/docs/reference/rest/v1/images
- Regional managed instance groups (:mod:`tests.servers.fake_compute_groups`): maxSurge and
  maxUnavailable validated as GCE does, rolling updates that wait for new instances to be
  healthy, instance health from the HTTP health check (which needs a firewall rule for Google's
  probe ranges), autohealing.
- Serial port output grows as the instance boots and is read with ``start``/``next``
  (:mod:`tests.servers.fake_compute_resources`).
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.fake_compute_groups import GroupsMixin
from tests.servers.fake_compute_resources import ResourcesMixin
from tests.servers.fake_compute_state import EPOCH, ApiError, Json
from tests.support.net import serving

P = r"/compute/v1/projects/(?P<project>[^/]+)/"
WAIT_HOLD = 120.0  # seconds operations.wait holds a request (Google's documented two minutes)
REQUEST_ID_TTL = 3600.0  # seconds a requestId is remembered ("at least 60 minutes")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Json | None


@dataclass
class Quota:
    """So many requests of a kind per interval, then 403 with ``reason`` until the interval ends
    (GCE refills a quota at the start of the next interval; here an interval starts with the
    first request after the last one ended, so that tests are deterministic). ``kind``: read
    (GET of one resource), list, operation (operation reads and waits), write (mutations), or
    resource (mutations of one resource: the limit applies to each resource)."""

    kind: str
    limit: int
    window: float = 60.0
    reason: str = "rateLimitExceeded"
    intervals: dict[str, tuple[float, int]] = field(default_factory=dict)  # key -> (start, count)

    def spend(self, key: str, now: float) -> bool:
        """Count one request; False when the quota for this interval is spent."""
        start, count = self.intervals.get(key, (now, 0))
        if now >= start + self.window:
            start, count = now, 0
        self.intervals[key] = (start, count + 1)
        return count + 1 <= self.limit


def default_quotas() -> list[Quota]:
    """GCE's default per-project rate quotas (1,500 requests a minute per group)."""
    return [Quota(kind, 1500) for kind in ("read", "list", "operation", "write")]


class Clock:
    """The fake's time: the real monotonic clock, plus what a test skipped ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def _request_id(query: dict[str, list[str]]) -> str | None:
    found = query.get("requestId")
    return found[0] if found else None


class FakeCompute(ResourcesMixin, GroupsMixin):
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        self.requests: list[Recorded] = []
        self.base = ""
        # knobs
        self.operation_seconds = 0.02  # how long an operation runs
        self.image_seconds = 0.05  # how long an image stays PENDING while it is imported
        self.wait_hold = WAIT_HOLD
        self.hold_operations = False  # operations stay RUNNING (a stuck backend)
        self.fail_next_operation: str | None = None  # an error code the next new operation ends with
        self.fail_next_image = False  # the next image import fails (the image ends FAILED)
        self.request_id_ttl = REQUEST_ID_TTL
        self.quotas: list[Quota] = default_quotas()
        self.throttled: Counter[str] = Counter()  # 403s sent for spent quotas, by reason
        self.crashes: list[str] = []  # the fake's own bugs (the fixture fails a test on any)
        # state
        self.operations: dict[str, Json] = {}
        self.by_request_id: dict[str, tuple[Json, float]] = {}
        self._ids = itertools.count(1000)
        self.setup_resources()
        self.setup_groups()
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Json]]] = [
            (method, re.compile(P + path + "$"), handler)
            for method, path, handler in [*self.resource_routes(), *self.group_routes(), *self._operation_routes()]
        ]

    def _operation_routes(self) -> list[tuple[str, str, Callable[..., Json]]]:
        ops = r"(?P<scope>global|regions/[^/]+|zones/[^/]+)/operations/(?P<op>[^/]+)"
        return [("GET", ops, self.operation_get), ("POST", ops + r"/wait", self.operation_wait)]

    # -- plumbing -------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Json | None) -> Json:
        with self.lock:
            self.requests.append(Recorded(method, path, query, body))
            for entry in self.operations.values():  # operations finish in time, watched or not
                self._done(entry)
            for want, pattern, handler in self._routes:
                match = pattern.match(path)
                if match and want == method:
                    self._throttle(method, path, match.groupdict())
                    return handler(query=query, body=body or {}, **match.groupdict())
            raise ApiError(404, f"no route for {method} {path}", "notFound")

    def _throttle(self, method: str, path: str, groups: dict[str, str]) -> None:
        if "op" in groups:
            kind = "operation"
        elif method == "GET":
            kind = "read" if "name" in groups or "family" in groups else "list"
        else:
            kind = "list" if path.endswith("/listManagedInstances") else "write"
        now = self.clock.now()
        for quota in self.quotas:
            if quota.kind == "resource" and kind == "write" and "name" in groups:
                spent = not quota.spend(re.sub(r"/(resize|deprecate)$", "", path), now)
            else:
                spent = quota.kind == kind and not quota.spend(kind, now)
            if spent:
                self.throttled[quota.reason] += 1
                message = ("Operation rate exceeded for resource. Too frequent operations from the source resource."
                           if quota.reason == "RESOURCE_OPERATION_RATE_EXCEEDED" else "Rate Limit Exceeded")
                raise ApiError(403, message, quota.reason, domain="usageLimits")

    def recorded(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def link(self, project: str, suffix: str) -> str:
        return f"{self.base}/compute/v1/projects/{project}/{suffix}"

    def stamp(self) -> tuple[str, str]:
        n = next(self._ids)
        return str(n), (EPOCH + datetime.timedelta(seconds=n)).isoformat()

    # -- operations -----------------------------------------------------------------------
    def replayed(self, query: dict[str, list[str]]) -> Json | None:
        """The operation an earlier request with this requestId started (kept for an hour)."""
        request_id = _request_id(query)
        found = self.by_request_id.get(request_id or "")
        if found is None or self.clock.now() - found[1] > self.request_id_ttl:
            return None
        return found[0]

    def operation(self, project: str, scope: str, *, kind: str, target: str, query: dict[str, list[str]],
                  effect: Callable[[], None], seconds: float | None = None,
                  on_done: Callable[[bool], None] | None = None, error: str | None = None) -> Json:
        """A new operation for ``effect`` (applied now unless ``fail_next_operation`` says the
        operation fails), or the original one when the requestId was seen in the last hour.
        ``error``: the operation ends with that error although the effect took place (a
        failed image import leaves a FAILED image). ``on_done(failed)`` runs when it ends."""
        original = self.replayed(query)
        if original is not None:
            return self.op_view(original["name"])
        failing = self.fail_next_operation
        self.fail_next_operation = None
        if not failing:
            effect()
        op_id, stamp = self.stamp()
        op: Json = {"kind": "compute#operation", "id": op_id, "name": f"operation-{op_id}", "operationType": kind,
                    "targetLink": target, "insertTime": stamp}
        op["selfLink"] = self.link(project, f"{scope}/operations/{op['name']}")
        if scope.startswith(("zones/", "regions/")):
            op[scope.split("/", maxsplit=1)[0][:-1]] = self.link(project, scope)
        code = failing or error
        now = self.clock.now()
        self.operations[op["name"]] = {"op": op, "start": now, "seconds": self.operation_seconds if seconds is None
                                       else seconds, "on_done": on_done, "error": code, "finished": False}
        if _request_id(query):
            self.by_request_id[_request_id(query) or ""] = (op, now)
        return self.op_view(op["name"])

    def _done(self, entry: Json) -> bool:
        if entry["finished"]:
            return True
        if self.hold_operations or self.clock.now() < entry["start"] + entry["seconds"]:
            return False
        entry["finished"] = True
        if entry["on_done"] is not None:
            entry["on_done"](bool(entry["error"]))
        return True

    def op_view(self, name: str) -> Json:
        entry = self.operations[name]
        if self._done(entry):
            done = dict(entry["op"], status="DONE", progress=100)
            if entry["error"]:  # an operation carries its error once it is DONE
                done.update(error={"errors": [{"code": entry["error"], "message": "injected by the fake"}]},
                            httpErrorStatusCode=400)
            return done
        started = self.clock.now() >= entry["start"] + entry["seconds"] / 4
        return dict(entry["op"], status="RUNNING" if started else "PENDING", progress=50 if started else 0)

    def operation_get(self, op: str, **_: Any) -> Json:
        if op not in self.operations:
            raise ApiError(404, f"operation {op} not found", "notFound")
        return self.op_view(op)

    def operation_wait(self, op: str, **_: Any) -> Json:
        """Hold the request (with the lock released) until the operation is DONE or the hold passes."""
        if op not in self.operations:
            raise ApiError(404, f"operation {op} not found", "notFound")
        until = time.monotonic() + self.wait_hold
        while not self._done(self.operations[op]) and time.monotonic() < until:
            self.lock.release()
            try:
                time.sleep(0.005)
            finally:
                self.lock.acquire()
        return self.op_view(op)


def _handler(fake: FakeCompute) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
                status, payload = 200, fake.handle(self.command, parts.path, parse_qs(parts.query), body)
            except ApiError as exc:
                status, payload = exc.code, exc.payload()
            except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test to fail on
                fake.crashes.append(f"{self.command} {parts.path}: {type(exc).__name__}: {exc}")
                status, payload = 500, ApiError(500, "the fake crashed", "backendError").payload()
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def fake_compute() -> Iterator[FakeCompute]:
    """Serve a :class:`FakeCompute` on a free 127.0.0.1 port; ``fake.base`` is its root URL."""
    fake = FakeCompute()
    with serving(_handler(fake)) as port:
        fake.base = f"http://127.0.0.1:{port}"
        yield fake
