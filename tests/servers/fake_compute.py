"""A small stateful fake of the Compute Engine REST API (v1), for the real google-cloud-compute
client with ``transport="rest"``.

Images (with family lookup and deprecation), instances (with serial output), instance templates,
regional managed instance groups (patch, resize, listManagedInstances) and operations that go
PENDING, RUNNING, DONE on successive GETs or waits. Every request is recorded for assertions.
A group is unstable for ``stable_after`` GETs after each change, then settles.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.net import serving

NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
STEPS = ("PENDING", "RUNNING", "DONE")
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
P = r"/compute/v1/projects/(?P<project>[^/]+)/"
Json = dict[str, Any]


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Json | None


def _request_id(query: dict[str, list[str]]) -> str | None:
    found = query.get("requestId")
    return found[0] if found else None


def last(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def version_size(size: Json, group_size: int) -> int:
    """A version's instance count: a fixed number, or a percent of the group rounded up
    (InstanceGroupManagerVersion.targetSize in the Compute API reference)."""
    if "fixed" in size:
        return min(int(size["fixed"]), group_size)
    return math.ceil(int(size.get("percent", 0)) * group_size / 100)


class FakeCompute:
    def __init__(self, stable_after: int = 2) -> None:
        self.stable_after = stable_after
        self.lock = threading.RLock()
        self.requests: list[Recorded] = []
        self.images: dict[str, Json] = {}
        self.templates: dict[str, Json] = {}
        self.instances: dict[tuple[str, str], Json] = {}
        self.groups: dict[tuple[str, str], Json] = {}
        self.members: dict[tuple[str, str], list[Json]] = {}
        self.unstable: dict[tuple[str, str], int] = {}
        self.operations: dict[str, Json] = {}
        self.by_request_id: dict[str, Json] = {}
        self.base = ""
        self.fail_next_operation: str | None = None  # an error code the next new operation ends with
        self.hold_operations = False  # operations stay RUNNING (a stuck backend)
        self._ids = itertools.count(1000)
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Json]]] = [
            (method, re.compile(P + path + "$"), handler) for method, path, handler in self._table()
        ]

    def _table(self) -> list[tuple[str, str, Callable[..., Json]]]:
        img, tpl = r"global/images", r"global/instanceTemplates"
        ins, mig = r"zones/(?P<zone>[^/]+)/instances", r"regions/(?P<region>[^/]+)/instanceGroupManagers"
        ops = r"(?P<scope>global|regions/[^/]+|zones/[^/]+)/operations/(?P<op>[^/]+)"
        return [
            ("POST", img, self.image_insert), ("GET", img, self.image_list),
            ("GET", img + r"/family/(?P<family>[^/]+)", self.image_family),
            ("GET", img + r"/(?P<name>[^/]+)", self.image_get),
            ("DELETE", img + r"/(?P<name>[^/]+)", self.image_delete),
            ("POST", img + r"/(?P<name>[^/]+)/deprecate", self.image_deprecate),
            ("POST", tpl, self.template_insert), ("GET", tpl, self.template_list),
            ("GET", tpl + r"/(?P<name>[^/]+)", self.template_get),
            ("DELETE", tpl + r"/(?P<name>[^/]+)", self.template_delete),
            ("POST", ins, self.instance_insert), ("GET", ins, self.instance_list),
            ("GET", ins + r"/(?P<name>[^/]+)", self.instance_get),
            ("DELETE", ins + r"/(?P<name>[^/]+)", self.instance_delete),
            ("GET", ins + r"/(?P<name>[^/]+)/serialPort", self.serial_port),
            ("POST", mig, self.group_insert), ("GET", mig, self.group_list),
            ("GET", mig + r"/(?P<name>[^/]+)", self.group_get), ("PATCH", mig + r"/(?P<name>[^/]+)", self.group_patch),
            ("DELETE", mig + r"/(?P<name>[^/]+)", self.group_delete),
            ("POST", mig + r"/(?P<name>[^/]+)/resize", self.group_resize),
            ("POST", mig + r"/(?P<name>[^/]+)/listManagedInstances", self.group_members),
            ("GET", ops, self.operation_get), ("POST", ops + r"/wait", self.operation_get),
        ]

    # -- plumbing -------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Json | None) -> Json:
        with self.lock:
            self.requests.append(Recorded(method, path, query, body))
            for want, pattern, handler in self._routes:
                match = pattern.match(path)
                if match and want == method:
                    return handler(query=query, body=body or {}, **match.groupdict())
            raise ApiError(404, f"no route for {method} {path}", "notFound")

    def recorded(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    @staticmethod
    def _drop(table: dict[Any, Json], key: Any) -> None:
        table.pop(key)

    def _link(self, project: str, suffix: str) -> str:
        return f"{self.base}/compute/v1/projects/{project}/{suffix}"

    def _stamp(self) -> tuple[str, str]:
        n = next(self._ids)
        return str(n), (EPOCH + datetime.timedelta(seconds=n)).isoformat()

    def _operation(self, project: str, scope: str, *, kind: str, target: str, query: dict[str, list[str]],
                   effect: Callable[[], None]) -> Json:
        request_id = _request_id(query)
        if request_id and request_id in self.by_request_id:
            return self.by_request_id[request_id]  # a retried request: same operation, no new effect
        if not self.fail_next_operation:
            effect()  # a failing operation changes nothing
        op_id, stamp = self._stamp()
        op: Json = {"kind": "compute#operation", "id": op_id, "name": f"operation-{op_id}", "operationType": kind,
                    "status": "PENDING", "targetLink": target, "insertTime": stamp, "progress": 0}
        op["selfLink"] = self._link(project, f"{scope}/operations/{op['name']}")
        if scope.startswith(("zones/", "regions/")):
            op[scope.split("/", maxsplit=1)[0][:-1]] = self._link(project, scope)
        if self.fail_next_operation:
            op["error"] = {"errors": [{"code": self.fail_next_operation, "message": "injected by the fake"}]}
            op["httpErrorStatusCode"] = 403
            self.fail_next_operation = None
        self.operations[op["name"]] = {"op": op, "step": 0}
        if request_id:
            self.by_request_id[request_id] = op
        return dict(op)

    def operation_get(self, project: str, scope: str, op: str, **_: Any) -> Json:
        entry = self.operations.get(op)
        if entry is None:
            raise ApiError(404, f"operation {op} not found", "notFound")
        entry["step"] = min(entry["step"] + 1, len(STEPS) - (2 if self.hold_operations else 1))
        current = dict(entry["op"], status=STEPS[entry["step"]])
        if current["status"] == "DONE":
            current["progress"] = 100
        return current

    # -- images ---------------------------------------------------------------------------
    def image_insert(self, project: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        name = body.get("name", "")
        if not NAME.match(name) or (body.get("family") and not NAME.match(body["family"])):
            raise ApiError(400, f"Invalid value for field 'resource.name': '{name}'")
        target = self._link(project, f"global/images/{name}")
        replay = _request_id(query) in self.by_request_id
        if name in self.images and not replay:
            raise ApiError(409, f"The resource '{target}' already exists", "alreadyExists")

        def effect() -> None:
            image_id, stamp = self._stamp()
            self.images[name] = {**body, "id": image_id, "creationTimestamp": stamp, "selfLink": target,
                                 "status": "READY", "kind": "compute#image"}

        return self._operation(project, "global", kind="insert", target=target, query=query, effect=effect)

    def _image(self, name: str) -> Json:
        if name not in self.images:
            raise ApiError(404, f"The resource 'images/{name}' was not found", "notFound")
        return self.images[name]

    def image_get(self, name: str, **_: Any) -> Json:
        return self._image(name)

    def image_list(self, **_: Any) -> Json:
        return {"items": list(self.images.values())}

    def image_family(self, family: str, **_: Any) -> Json:
        live = [i for i in self.images.values() if i.get("family") == family and not i.get("deprecated")]
        if not live:
            raise ApiError(404, f"The resource 'family/{family}' was not found", "notFound")
        return max(live, key=lambda i: i["creationTimestamp"])

    def image_delete(self, project: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        image = self._image(name)
        return self._operation(project, "global", kind="delete", target=image["selfLink"],
                               query=query, effect=lambda: self._drop(self.images, name))

    def image_deprecate(self, project: str, name: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        image = self._image(name)
        return self._operation(project, "global", kind="deprecate", target=image["selfLink"], query=query,
                               effect=lambda: image.update(deprecated=body))

    # -- instance templates ---------------------------------------------------------------
    def template_insert(self, project: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        name = body["name"]
        target = self._link(project, f"global/instanceTemplates/{name}")
        if name in self.templates and _request_id(query) not in self.by_request_id:
            raise ApiError(409, f"The resource '{target}' already exists", "alreadyExists")

        def effect() -> None:
            template_id, stamp = self._stamp()
            self.templates[name] = {**body, "id": template_id, "creationTimestamp": stamp, "selfLink": target}

        return self._operation(project, "global", kind="insert", target=target, query=query, effect=effect)

    def template_get(self, name: str, **_: Any) -> Json:
        if name not in self.templates:
            raise ApiError(404, f"The resource 'instanceTemplates/{name}' was not found", "notFound")
        return self.templates[name]

    def template_list(self, **_: Any) -> Json:
        return {"items": list(self.templates.values())}

    def template_delete(self, project: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        template = self.template_get(name)
        in_use = [g["name"] for g in self.groups.values()
                  if name in {last(v["instanceTemplate"]) for v in g["versions"]}]
        if in_use:
            raise ApiError(400, f"The instance_template resource '{name}' is already being used by '{in_use[0]}'",
                           "resourceInUseByAnotherResource")
        return self._operation(project, "global", kind="delete", target=template["selfLink"], query=query,
                               effect=lambda: self._drop(self.templates, name))

    # -- instances ------------------------------------------------------------------------
    def instance_insert(self, project: str, zone: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        name = body.get("name", "")
        target = self._link(project, f"zones/{zone}/instances/{name}")

        def effect() -> None:
            instance_id, stamp = self._stamp()
            self.instances[(zone, name)] = {**body, "id": instance_id, "creationTimestamp": stamp,
                                            "selfLink": target, "status": "RUNNING",
                                            "zone": self._link(project, f"zones/{zone}"),
                                            "networkInterfaces": [{"networkIP": "10.128.0.2",
                                                                   "accessConfigs": [{"natIP": "203.0.113.7"}]}]}

        return self._operation(project, f"zones/{zone}", kind="insert", target=target, query=query, effect=effect)

    def instance_get(self, zone: str, name: str, **_: Any) -> Json:
        if (zone, name) not in self.instances:
            raise ApiError(404, f"The resource 'instances/{name}' was not found", "notFound")
        return self.instances[(zone, name)]

    def instance_list(self, zone: str, **_: Any) -> Json:
        return {"items": [i for (z, _n), i in self.instances.items() if z == zone]}

    def instance_delete(self, project: str, zone: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        instance = self.instance_get(zone, name)
        return self._operation(project, f"zones/{zone}", kind="delete", target=instance["selfLink"], query=query,
                               effect=lambda: self._drop(self.instances, (zone, name)))

    def serial_port(self, zone: str, name: str, **_: Any) -> Json:
        self.instance_get(zone, name)
        contents = f"SeaBIOS\nLinux version 6.1\n{name}: welcome to LinuxKit\n"
        return {"kind": "compute#serialPortOutput", "contents": contents, "start": "0", "next": str(len(contents))}

    # -- regional managed instance groups -------------------------------------------------
    def _group(self, region: str, name: str) -> Json:
        if (region, name) not in self.groups:
            raise ApiError(404, f"The resource 'instanceGroupManagers/{name}' was not found", "notFound")
        return self.groups[(region, name)]

    def _settle(self, key: tuple[str, str]) -> None:
        """Bring the members to the target size and the versions' templates."""
        group = self.groups[key]
        members = self.members.setdefault(key, [])
        del members[int(group["targetSize"]):]
        while len(members) < int(group["targetSize"]):
            name = f"{group['baseInstanceName']}-{len(members):04d}"
            members.append({"instance": self._link(group["project"], f"zones/{key[0]}-a/instances/{name}"),
                            "id": self._stamp()[0], "instanceStatus": "RUNNING"})
        fixed = [v for v in group["versions"] if v.get("targetSize")]
        rest = [v for v in group["versions"] if not v.get("targetSize")] or group["versions"][-1:]
        plan = [v for v in fixed for _ in range(version_size(v["targetSize"], int(group["targetSize"])))]
        for index, member in enumerate(members):
            version = plan[index] if index < len(plan) else rest[0]
            member["version"] = {"instanceTemplate": version["instanceTemplate"], "name": version.get("name", "")}
            member["currentAction"] = "NONE"

    def _unsettle(self, key: tuple[str, str]) -> None:
        self.unstable[key] = self.stable_after
        for member in self.members.get(key, []):
            member["currentAction"] = "REFRESHING"

    def _view(self, key: tuple[str, str]) -> Json:
        group = dict(self.groups[key])
        stable = self.unstable.get(key, 0) == 0
        group["status"] = {"isStable": stable, "versionTarget": {"isReached": stable}}
        members = self.members.get(key, [])
        group["currentActions"] = {"none": sum(m["currentAction"] == "NONE" for m in members),
                                   "refreshing": sum(m["currentAction"] != "NONE" for m in members)}
        return group

    def group_insert(self, project: str, region: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        key = (region, body["name"])
        target = self._link(project, f"regions/{region}/instanceGroupManagers/{body['name']}")

        def effect() -> None:
            versions = body.get("versions") or [{"instanceTemplate": body["instanceTemplate"]}]
            self.groups[key] = {**body, "versions": versions, "selfLink": target, "project": project,
                                "region": self._link(project, f"regions/{region}"), "id": self._stamp()[0]}
            self._settle(key)
            self._unsettle(key)

        return self._operation(project, f"regions/{region}", kind="insert", target=target, query=query, effect=effect)

    def group_get(self, region: str, name: str, **_: Any) -> Json:
        key = (region, name)
        self._group(region, name)
        if self.unstable.get(key, 0) > 0:
            self.unstable[key] -= 1
            if self.unstable[key] == 0:
                self._settle(key)
        return self._view(key)

    def group_list(self, region: str, **_: Any) -> Json:
        return {"items": [self._view(k) for k in self.groups if k[0] == region]}

    def group_patch(self, project: str, region: str, name: str, body: Json, query: dict[str, list[str]],
                    **_: Any) -> Json:
        group = self._group(region, name)

        def effect() -> None:
            group.update({k: v for k, v in body.items() if k in ("versions", "updatePolicy", "instanceTemplate")})
            self._unsettle((region, name))

        return self._operation(project, f"regions/{region}", kind="patch", target=group["selfLink"],
                               query=query, effect=effect)

    def group_resize(self, project: str, region: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        group = self._group(region, name)

        def effect() -> None:
            group["targetSize"] = int(query["size"][0])
            self._unsettle((region, name))

        return self._operation(project, f"regions/{region}", kind="resize", target=group["selfLink"],
                               query=query, effect=effect)

    def group_members(self, region: str, name: str, **_: Any) -> Json:
        self._group(region, name)
        return {"managedInstances": self.members.get((region, name), [])}

    def group_delete(self, project: str, region: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        group = self._group(region, name)

        def effect() -> None:
            self.groups.pop((region, name))
            self.members.pop((region, name), None)

        return self._operation(project, f"regions/{region}", kind="delete", target=group["selfLink"],
                               query=query, effect=effect)


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
                status = exc.code
                payload = {"error": {"code": exc.code, "message": exc.message,
                                     "errors": [{"reason": exc.reason, "message": exc.message}]}}
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
def fake_compute(stable_after: int = 2) -> Iterator[FakeCompute]:
    """Serve a :class:`FakeCompute` on a free 127.0.0.1 port; ``fake.base`` is its root URL."""
    fake = FakeCompute(stable_after)
    with serving(_handler(fake)) as port:
        fake.base = f"http://127.0.0.1:{port}"
        yield fake
