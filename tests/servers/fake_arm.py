"""A small stateful fake of Azure Resource Manager over local https, for the real
azure-mgmt-compute and azure-mgmt-network clients.

Resources are kept generically by id (``…/providers/{namespace}/{type}/{name}[/{type}/{name}]``):
PUT creates or replaces, PATCH merges, GET reads or lists a collection, DELETE removes a resource
and its children. Writes are long-running operations with Resource Manager's semantics
("Track asynchronous Azure operations",
https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations): 201
(PUT), 200 (PATCH) or 202 (DELETE, POST) with an ``Azure-AsyncOperation`` (and for DELETE and
POST a ``Location``) header pointing back at the fake; the status is ``InProgress`` for
``steps`` polls (slow states stay configurable), then ``Succeeded`` or ``Failed``.

Modelled because lkcloud depends on it (each with its source in the module that does it):
throttling and passing failures on status polls (``poll_faults``: 429 with ``Retry-After``, 5xx,
a reset connection; "Throttling Resource Manager requests",
https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling);
a VM or scale-set GET returns ``userData`` only with ``$expand=userData`` ("Virtual Machine Scale
Sets - Get", https://learn.microsoft.com/rest/api/compute/virtual-machine-scale-sets/get);
validation of what lkcloud sends and the behaviour of scale sets, extensions, load balancers and
NSGs (:mod:`tests.servers.fake_arm_rules`, :mod:`tests.servers.azure_vmss`,
:mod:`tests.servers.azure_network`). A resource group not in ``groups`` answers 404
``ResourceGroupNotFound``. Every request is recorded for assertions.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers import fake_arm_rules as rules
from tests.servers.azure_network import App, Member
from tests.servers.azure_tls import TlsFiles
from tests.servers.azure_vmss import ScaleSet, now
from tests.support.net import serving

Json = dict[str, Any]
GROUP_PATH = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)(?P<rest>/.*)?$", re.I)
ApiError = rules.ApiError
RESET = -1  # a Reply status: close the connection without answering


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    text: str | None = None


@dataclass
class Operation:
    remaining: int
    effect: Callable[[], Json | None]
    status: str = "InProgress"
    error: Json | None = None
    result: Json | None = None  # a POST's answer, served at its Location


def merge(into: Json, patch: Json) -> Json:
    """Merge-patch: objects merge key by key, anything else replaces."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


@dataclass
class FakeArm:
    groups: set[str]
    steps: int = 2
    lock: threading.RLock = field(default_factory=threading.RLock)
    requests: list[Recorded] = field(default_factory=list)
    resources: dict[str, Json] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    scale_sets: dict[str, ScaleSet] = field(default_factory=dict)
    app: App = field(default_factory=App)
    poll_faults: list[str] = field(default_factory=list)  # "429", "500", "503", "reset": the next status polls
    extension_polls: int = 6  # polls before an extension that no agent runs times out
    console_after: int = 0  # serial-log reads that find nothing yet (boot diagnostics are slow)
    may_list_keys: bool = True  # the credentials hold Microsoft.Storage/storageAccounts/listKeys/action
    storage_key: str = ""  # what listKeys answers
    base: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.groups = {g.lower() for g in self.groups}

    # -- assertions -----------------------------------------------------------------------
    def recorded(self, method: str, pattern: str) -> list[Recorded]:
        found = re.compile(pattern, re.I)
        return [r for r in self.requests if r.method == method and found.search(r.path)]

    def get(self, resource_id: str) -> Json | None:
        return self.resources.get(resource_id.lower())

    def reachable(self, address: str, port: int) -> bool:
        """Whether a TCP connection from the internet to ``address:port`` gets to a serving machine."""
        with self.lock:
            return rules.reachable(self, address, port)

    def outbound(self, ident: str) -> bool:
        """Whether the machine (a VM's or scale-set instance's id) can reach the internet."""
        with self.lock:
            return rules.can_reach_out(self, ident)

    def next_id(self) -> int:
        return next(self._ids)

    def add_storage_account(self, group: str, name: str, location: str, blob_endpoint: str) -> str:
        """A storage account that exists already (lkcloud never makes one)."""
        sub = "00000000-0000-0000-0000-00000000cafe"
        ident = f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{name}"
        self.resources[ident.lower()] = {"id": ident, "name": name, "type": "Microsoft.Storage/storageAccounts",
                                         "location": location, "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
                                         "properties": {"provisioningState": "Succeeded",
                                                        "primaryEndpoints": {"blob": blob_endpoint}}}
        return ident

    # -- dispatch -------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any, auth: str) -> Reply:
        with self.lock:
            self.requests.append(Recorded(method, path, query, body, auth))
            if path.startswith("/console/"):  # a SAS URL: no bearer token
                return self._console(path.rsplit("/", 1)[1])
            if not auth.startswith("Bearer "):
                raise ApiError(401, "AuthenticationFailed", "no bearer token")
            if path.startswith("/operations/"):
                return self._operation(path.split("/")[2], result=path.endswith("/result"))
            if method == "GET" and path.lower().endswith("/providers/microsoft.storage/storageaccounts") \
                    and "/resourcegroups/" not in path.lower():
                return Reply(200, {"value": [copy.deepcopy(r) for r in self.resources.values()
                                             if r.get("type", "").lower() == rules.STORAGE]})
            match = GROUP_PATH.match(path)
            if not match:
                raise ApiError(404, "NotFound", f"no route for {path}")
            if match["group"].lower() not in self.groups:
                raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{match['group']}' could not be found.")
            return self._resource(method, path.rstrip("/"), query, body)

    def _resource(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        special = rules.special(self, method, path)
        if special is not None:
            return special
        parts = path.split("/")
        lowered = [p.lower() for p in parts]
        if "providers" not in lowered:
            raise ApiError(404, "NotFound", f"no route for {path}")
        at = lowered.index("providers")
        tail = parts[at + 2 :]
        if len(tail) % 2:  # a collection
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} on a collection")
            return Reply(200, {"value": [rules.without_user_data(r) for r in self._list(path)]})
        if method == "GET":
            return self._get(path, parts[at + 1], tail, query)
        handler = {"PUT": self._put, "PATCH": self._patch, "DELETE": self._delete}.get(method)
        if handler is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} {path}")
        return handler(path, parts[at + 1], tail, body, query)

    # -- generic resources ----------------------------------------------------------------
    def _list(self, collection: str) -> list[Json]:
        prefix = collection.lower() + "/"
        return [copy.deepcopy(r) for key, r in sorted(self.resources.items())
                if key.startswith(prefix) and "/" not in key[len(prefix) :]]

    def _get(self, path: str, namespace: str, tail: list[str], query: dict[str, list[str]]) -> Reply:
        found = self.resources.get(path.lower())
        if found is None:
            raise ApiError(404, "ResourceNotFound", f"The Resource '{namespace}/{'/'.join(tail)}' was not found.")
        expand = ",".join(query.get("$expand", [])).lower()
        return Reply(200, copy.deepcopy(found) if "userdata" in expand else rules.without_user_data(found))

    def _check_parent(self, path: str, tail: list[str]) -> None:
        if len(tail) > 2:
            parent = path.rsplit("/", 2)[0]
            if parent.lower() not in self.resources:
                raise ApiError(404, "ParentResourceNotFound", f"parent resource {parent} not found")

    def _put(self, path: str, namespace: str, tail: list[str], body: Any, query: dict[str, list[str]]) -> Reply:
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidRequestContent", "the request body must be a JSON object")
        self._check_parent(path, tail)
        key = path.lower()
        kind = "/".join([namespace, *tail[0::2]])
        previous = copy.deepcopy(self.resources.get(key))
        rules.validate(self, kind.lower(), body, previous, path)
        resource = copy.deepcopy(body)
        resource.update({"id": path, "name": tail[-1], "type": kind})
        resource.setdefault("properties", {})["provisioningState"] = "Updating" if previous else "Creating"
        rules.created(self, kind.lower(), resource, query)
        self.resources[key] = resource
        failure = rules.failure(self, kind.lower(), resource)
        return self._start(path, 200 if previous else 201, lambda: self._settled(key, kind.lower(), previous),
                           polls=failure[0] if failure else None, error=failure[1] if failure else None)

    def _patch(self, path: str, namespace: str, tail: list[str], body: Any, query: dict[str, list[str]]) -> Reply:
        key = path.lower()
        if key not in self.resources:
            raise ApiError(404, "ResourceNotFound", f"{path} not found")
        previous = copy.deepcopy(self.resources[key])
        merged = merge(copy.deepcopy(self.resources[key]), body or {})
        rules.validate(self, merged["type"].lower(), merged, previous)
        self.resources[key] = merged
        merged["properties"]["provisioningState"] = "Updating"
        kind = merged["type"].lower()
        return self._start(path, 200, lambda: self._settled(key, kind, previous))

    def _delete(self, path: str, namespace: str, tail: list[str], body: Any, query: dict[str, list[str]]) -> Reply:
        key = path.lower()
        if key not in self.resources:
            return Reply(204)
        rules.deletable(self, key)

        def effect() -> None:
            for child in [k for k in self.resources if k == key or k.startswith(key + "/")]:
                del self.resources[child]
            self.scale_sets.pop(key, None)

        return self._start(path, 202, effect, location=True)

    # -- long-running operations ----------------------------------------------------------
    def _start(self, path: str, status: int, effect: Callable[[], Json | None], *, location: bool = False,
               polls: int | None = None, error: ApiError | None = None) -> Reply:
        op_id = f"op-{self.next_id()}"

        def run() -> Json | None:
            if error is not None:
                raise error
            return effect()

        self.operations[op_id] = Operation(self.steps if polls is None else polls, run)
        url = f"{self.base}/operations/{op_id}?api-version=2026-04-01"
        headers = [("Azure-AsyncOperation", url)]
        if location:
            headers.append(("Location", f"{self.base}/operations/{op_id}/result?api-version=2026-04-01"))
        body = None if status in (202, 204) else rules.without_user_data(self.resources[path.lower()])
        return Reply(status, body, tuple(headers))

    def start_post(self, effect: Callable[[], Json | None]) -> Reply:
        """A POST action as a long-running operation: 202 with both headers; the result at Location."""
        return self._start("", 202, effect, location=True)

    def _operation(self, op_id: str, result: bool) -> Reply:
        op = self.operations.get(op_id)
        if op is None:
            raise ApiError(404, "NotFound", f"operation {op_id} not found")
        if self.poll_faults:
            return _fault(self.poll_faults.pop(0))
        if op.status == "InProgress":
            if op.remaining > 0:
                op.remaining -= 1
            else:
                try:
                    op.result = op.effect()
                    op.status = "Succeeded"
                except ApiError as exc:
                    op.status, op.error = "Failed", {"code": exc.code, "message": exc.message}
        if result:  # the Location URL: 202 while running, then the result
            if op.status == "InProgress":
                return Reply(202, None, (("Retry-After", "0"),))
            if op.error:
                return Reply(400, {"error": op.error})
            return Reply(200, op.result) if op.result is not None else Reply(204)
        body: Json = {"name": op_id, "status": op.status, "startTime": now()}
        if op.error:
            body["error"] = op.error
        return Reply(200, body)

    def _settled(self, key: str, kind: str, previous: Json | None) -> None:
        resource = self.resources.get(key)
        if resource is None:
            return
        resource["properties"]["provisioningState"] = "Succeeded"
        rules.settled(self, kind, resource, previous)

    def _console(self, vm: str) -> Reply:
        if self.console_after > 0:
            self.console_after -= 1
            return Reply(404, {"error": {"code": "BlobNotFound", "message": "The specified blob does not exist."}})
        return Reply(200, text=f"fake serial console of {vm}\nlinuxkit login:\n")

    def members(self) -> list[tuple[Member, list[str]]]:
        return rules.members(self)


def _fault(kind: str) -> Reply:
    if kind == "reset":
        return Reply(RESET)
    if kind == "429":
        return Reply(429, {"error": {"code": "TooManyRequests", "message": "throttled (fake)"}},
                     (("Retry-After", "1"),))
    return Reply(int(kind), {"error": {"code": "InternalServerError", "message": "passing failure (fake)"}})


def _handler(fake: FakeArm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go separately

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
                reply = fake.handle(self.command, parts.path, parse_qs(parts.query), body,
                                    self.headers.get("Authorization", ""))
            except ApiError as exc:
                reply = Reply(exc.status, {"error": {"code": exc.code, "message": exc.message}})
            if reply.status == RESET:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._reply(reply)

        def _reply(self, reply: Reply) -> None:
            if reply.text is not None:
                data, kind = reply.text.encode(), "text/plain"
            else:
                data, kind = (b"" if reply.body is None else json.dumps(reply.body).encode()), "application/json"
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def fake_arm(tls: TlsFiles, groups: set[str], steps: int = 2) -> Iterator[FakeArm]:
    """Serve a :class:`FakeArm` over https on a free 127.0.0.1 port; ``fake.base`` is its root URL."""
    fake = FakeArm(groups, steps)
    with serving(_handler(fake), tls.server_context()) as port:
        fake.base = f"https://127.0.0.1:{port}"
        yield fake
