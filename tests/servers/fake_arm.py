"""A small stateful fake of Azure Resource Manager over local https, for the real
azure-mgmt-compute and azure-mgmt-network clients.

Resources are kept generically by id (``…/providers/{namespace}/{type}/{name}[/{type}/{name}]``):
PUT creates or replaces, PATCH merges, GET reads or lists a collection, DELETE removes a resource
and its children. Writes are long-running operations with Resource Manager's semantics: 201
(PUT), 200 (PATCH) or 202 (DELETE) with an ``Azure-AsyncOperation`` header pointing back at the
fake, whose status is ``InProgress`` for ``steps`` polls, then ``Succeeded``. A resource group
not in ``groups`` answers 404 ``ResourceGroupNotFound``. Scale sets keep instances and start a
rolling upgrade when their model changes (:mod:`tests.servers.azure_vmss`). Every request is
recorded for assertions.
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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.servers.azure_tls import TlsFiles
from tests.servers.azure_vmss import ScaleSet, now
from tests.support.net import serving

Json = dict[str, Any]
GROUP_PATH = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<group>[^/]+)(?P<rest>/.*)?$", re.I)
VMSS = "microsoft.compute/virtualmachinescalesets"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


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
    effect: Callable[[], None]
    status: str = "InProgress"
    error: Json | None = None


def merge(into: Json, patch: Json) -> Json:
    """Merge-patch: objects merge key by key, anything else replaces."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


class FakeArm:
    def __init__(self, groups: set[str], steps: int = 2) -> None:
        self.groups = {g.lower() for g in groups}
        self.steps = steps
        self.lock = threading.RLock()
        self.requests: list[Recorded] = []
        self.resources: dict[str, Json] = {}
        self.operations: dict[str, Operation] = {}
        self.scale_sets: dict[str, ScaleSet] = {}
        self.fail_upgrades = False  # the next rolling upgrades fault
        self.unhealthy = False  # scale-set instances report unhealthy
        self.base = ""
        self._ids = itertools.count(1)

    # -- assertions -----------------------------------------------------------------------
    def recorded(self, method: str, pattern: str) -> list[Recorded]:
        found = re.compile(pattern, re.I)
        return [r for r in self.requests if r.method == method and found.search(r.path)]

    def get(self, resource_id: str) -> Json | None:
        return self.resources.get(resource_id.lower())

    # -- dispatch -------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any, auth: str) -> Reply:
        with self.lock:
            self.requests.append(Recorded(method, path, query, body, auth))
            if path.startswith("/console/"):  # a SAS URL: no bearer token
                return Reply(200, text=f"fake serial console of {path.rsplit('/', 1)[1]}\nlinuxkit login:\n")
            if not auth.startswith("Bearer "):
                raise ApiError(401, "AuthenticationFailed", "no bearer token")
            if path.startswith("/operations/"):
                return self._operation(path.rsplit("/", 1)[1])
            match = GROUP_PATH.match(path)
            if not match:
                raise ApiError(404, "NotFound", f"no route for {path}")
            if match["group"].lower() not in self.groups:
                raise ApiError(404, "ResourceGroupNotFound", f"Resource group '{match['group']}' could not be found.")
            return self._resource(method, path.rstrip("/"), body)

    def _resource(self, method: str, path: str, body: Any) -> Reply:
        special = self._special(method, path)
        if special is not None:
            return special
        parts = path.split("/")
        at = [p.lower() for p in parts].index("providers") if "providers" in (p.lower() for p in parts) else -1
        if at < 0:
            raise ApiError(404, "NotFound", f"no route for {path}")
        tail = parts[at + 2 :]
        if len(tail) % 2:  # a collection
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{method} on a collection")
            return Reply(200, {"value": self._list(path)})
        handler = {"PUT": self._put, "PATCH": self._patch, "GET": self._get, "DELETE": self._delete}[method]
        return handler(path, parts[at + 1], tail, body)

    def _special(self, method: str, path: str) -> Reply | None:
        lower = path.lower()
        if lower.endswith("/rollingupgrades/latest"):
            scale_set = self._scale_set(path.rsplit("/", 2)[0])
            scale_set.advance()
            latest = scale_set.latest()
            if latest is None:
                raise ApiError(404, "NotFound", "no rolling upgrade has run on this scale set")
            return Reply(200, latest)
        if method == "GET" and VMSS in lower and lower.endswith("/virtualmachines"):
            return Reply(200, {"value": self._scale_set(path.rsplit("/", 1)[0]).vms(not self.unhealthy)})
        if method == "POST" and lower.endswith("/retrievebootdiagnosticsdata"):
            vm = path.split("/")[-2]
            return Reply(200, {"consoleScreenshotBlobUri": f"{self.base}/console/{vm}.bmp",
                               "serialConsoleLogBlobUri": f"{self.base}/console/{vm}"})
        return None

    def _scale_set(self, resource_id: str) -> ScaleSet:
        found = self.scale_sets.get(resource_id.lower())
        if found is None:
            raise ApiError(404, "ResourceNotFound", f"scale set {resource_id} not found")
        return found

    # -- generic resources ----------------------------------------------------------------
    def _list(self, collection: str) -> list[Json]:
        prefix = collection.lower() + "/"
        return [copy.deepcopy(r) for key, r in sorted(self.resources.items())
                if key.startswith(prefix) and "/" not in key[len(prefix) :]]

    def _get(self, path: str, namespace: str, tail: list[str], body: Any) -> Reply:
        found = self.resources.get(path.lower())
        if found is None:
            raise ApiError(404, "ResourceNotFound", f"The Resource '{namespace}/{'/'.join(tail)}' was not found.")
        return Reply(200, copy.deepcopy(found))

    def _check_parent(self, path: str, tail: list[str]) -> None:
        if len(tail) > 2:
            parent = path.rsplit("/", 2)[0]
            if parent.lower() not in self.resources:
                raise ApiError(404, "ParentResourceNotFound", f"parent resource {parent} not found")

    def _put(self, path: str, namespace: str, tail: list[str], body: Any) -> Reply:
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidRequestContent", "the request body must be a JSON object")
        self._check_parent(path, tail)
        key = path.lower()
        previous = copy.deepcopy(self.resources.get(key))
        resource = copy.deepcopy(body)
        kind = "/".join([namespace, *tail[0::2]])
        resource.update({"id": path, "name": tail[-1], "type": kind})
        resource.setdefault("properties", {})["provisioningState"] = "Updating" if previous else "Creating"
        self.resources[key] = resource
        return self._start(path, 200 if previous else 201, lambda: self._settled(key, kind.lower(), previous))

    def _patch(self, path: str, namespace: str, tail: list[str], body: Any) -> Reply:
        key = path.lower()
        if key not in self.resources:
            raise ApiError(404, "ResourceNotFound", f"{path} not found")
        previous = copy.deepcopy(self.resources[key])
        merge(self.resources[key], body or {})
        self.resources[key]["properties"]["provisioningState"] = "Updating"
        kind = self.resources[key]["type"].lower()
        return self._start(path, 200, lambda: self._settled(key, kind, previous))

    def _delete(self, path: str, namespace: str, tail: list[str], body: Any) -> Reply:
        key = path.lower()
        if key not in self.resources:
            return Reply(204)

        def effect() -> None:
            for child in [k for k in self.resources if k == key or k.startswith(key + "/")]:
                del self.resources[child]
            self.scale_sets.pop(key, None)

        return self._start(path, 202, effect, location=True)

    # -- long-running operations ----------------------------------------------------------
    def _start(self, path: str, status: int, effect: Callable[[], None], location: bool = False) -> Reply:
        op_id = f"op-{next(self._ids)}"
        self.operations[op_id] = Operation(self.steps, effect)
        url = f"{self.base}/operations/{op_id}?api-version=2026-04-01"
        headers = [("Azure-AsyncOperation", url)] + ([("Location", url)] if location else [])
        body = None if status in (202, 204) else copy.deepcopy(self.resources[path.lower()])
        return Reply(status, body, tuple(headers))

    def _operation(self, op_id: str) -> Reply:
        op = self.operations.get(op_id)
        if op is None:
            raise ApiError(404, "NotFound", f"operation {op_id} not found")
        if op.status == "InProgress":
            if op.remaining > 0:
                op.remaining -= 1
            else:
                try:
                    op.effect()
                    op.status = "Succeeded"
                except ApiError as exc:
                    op.status, op.error = "Failed", {"code": exc.code, "message": exc.message}
        body: Json = {"name": op_id, "status": op.status, "startTime": now()}
        if op.error:
            body["error"] = op.error
        return Reply(200, body)

    def _settled(self, key: str, kind: str, previous: Json | None) -> None:
        resource = self.resources.get(key)
        if resource is None:
            return
        resource["properties"]["provisioningState"] = "Succeeded"
        hook = HOOKS.get(kind)
        if hook is not None:
            hook(self, resource, previous)


def _vnet(fake: FakeArm, resource: Json, previous: Json | None) -> None:
    for subnet in resource["properties"].get("subnets", []):
        subnet["id"] = f"{resource['id']}/subnets/{subnet['name']}"
        subnet.setdefault("properties", {})["provisioningState"] = "Succeeded"
        fake.resources[subnet["id"].lower()] = copy.deepcopy(subnet) | {
            "type": "Microsoft.Network/virtualNetworks/subnets"}


def _nic(fake: FakeArm, resource: Json, previous: Json | None) -> None:
    for index, config in enumerate(resource["properties"].get("ipConfigurations", [])):
        config["id"] = f"{resource['id']}/ipConfigurations/{config.get('name', index)}"
        config.setdefault("properties", {})["privateIPAddress"] = f"10.0.0.{4 + len(fake.resources) % 250}"


def _public_ip(fake: FakeArm, resource: Json, previous: Json | None) -> None:
    resource["properties"]["ipAddress"] = f"203.0.113.{1 + len(fake.resources) % 250}"


def _vm(fake: FakeArm, resource: Json, previous: Json | None) -> None:
    resource["properties"].setdefault("vmId", f"00000000-0000-4000-8000-{next(fake._ids):012d}")
    resource["properties"].setdefault("timeCreated", now())


def _scale_set_hook(fake: FakeArm, resource: Json, previous: Json | None) -> None:
    key = resource["id"].lower()
    scale_set = fake.scale_sets.setdefault(key, ScaleSet(resource["id"], resource["name"]))
    properties = resource["properties"]
    properties.setdefault("uniqueId", f"vmss-{next(fake._ids)}")
    properties.setdefault("timeCreated", now())
    capacity = int(resource.get("sku", {}).get("capacity", 0))
    model_changed = previous is not None and previous["properties"].get("virtualMachineProfile") != properties.get(
        "virtualMachineProfile")
    if model_changed and properties.get("upgradePolicy", {}).get("mode") == "Rolling":
        scale_set.new_model(properties["upgradePolicy"].get("rollingUpgradePolicy", {}), fake.fail_upgrades)
    elif model_changed:
        scale_set.model += 1  # Manual/Automatic: instances keep the old model until upgraded
    scale_set.resize(capacity)


HOOKS: dict[str, Callable[[FakeArm, Json, Json | None], None]] = {
    "microsoft.network/virtualnetworks": _vnet,
    "microsoft.network/networkinterfaces": _nic,
    "microsoft.network/publicipaddresses": _public_ip,
    "microsoft.compute/virtualmachines": _vm,
    VMSS: _scale_set_hook,
}


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
