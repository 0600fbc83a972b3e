"""A fake cloud metadata server for the boot tests: AWS IMDSv2, GCP, or Azure IMDS + WireServer.

Strict where the real ones are: AWS answers GETs only with a token from ``PUT /latest/api/token``
(401 without), GCP only with ``Metadata-Flavor: Google`` (403 without), Azure IMDS only with
``Metadata: true`` (400 without). ``failures`` makes a path answer errors first: Azure IMDS
throttles with 429 and may answer 5xx while it starts ("Azure Instance Metadata Service",
https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service: "Rate limiting",
"Errors and debugging"), and a VM that never gets its Ready report through is restarted, so
the guest must keep asking. Every request is recorded for the test to inspect.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

AWS_TOKEN = "fake-imds-token"
AZURE_CONTAINER_ID = "c0ffee00-0000-4000-8000-000000000001"
AZURE_INSTANCE_ID = "role-instance-0"
GOAL_STATE = f"""<?xml version="1.0" encoding="utf-8"?>
<GoalState xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Version>2012-11-30</Version>
  <Incarnation>1</Incarnation>
  <Machine><ExpectedState>Started</ExpectedState></Machine>
  <Container>
    <ContainerId>{AZURE_CONTAINER_ID}</ContainerId>
    <RoleInstanceList>
      <RoleInstance><InstanceId>{AZURE_INSTANCE_ID}</InstanceId></RoleInstance>
    </RoleInstanceList>
  </Container>
</GoalState>
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int


@dataclass(frozen=True)
class Instance:
    """What the fake cloud tells the guest."""

    hostname: str
    user_data: bytes
    ssh_key: str


Reply = tuple[int, bytes, str]  # status, body, content type
NOT_FOUND: Reply = (404, b"not found\n", "text/plain")


def _text(value: str | bytes) -> Reply:
    return 200, value.encode() if isinstance(value, str) else value, "text/plain"


def _aws(req: Request, vm: Instance) -> Reply:
    if req.method == "PUT" and req.path == "/latest/api/token":
        ttl = req.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return 400, b"missing or bad token TTL\n", "text/plain"
        return _text(AWS_TOKEN)
    if not req.path.startswith("/latest/"):
        return NOT_FOUND
    if req.headers.get("x-aws-ec2-metadata-token") != AWS_TOKEN:
        return 401, b"", "text/plain"
    values: dict[str, str | bytes] = {
        "/latest/meta-data/hostname": vm.hostname,
        "/latest/meta-data/instance-id": "i-0123456789abcdef0",
        "/latest/meta-data/instance-type": "t3.micro",
        "/latest/meta-data/public-keys/0/openssh-key": vm.ssh_key + "\n",
        "/latest/user-data": vm.user_data,
    }
    value = values.get(req.path)
    return NOT_FOUND if value is None else _text(value)


def _gcp(req: Request, vm: Instance) -> Reply:
    if not req.path.startswith("/computeMetadata/v1/"):
        return NOT_FOUND
    if req.headers.get("metadata-flavor") != "Google":
        return 403, b"Missing Metadata-Flavor:Google header.\n", "text/html"
    values: dict[str, str | bytes] = {
        "instance/hostname": vm.hostname,
        "instance/attributes/user-data": vm.user_data,
        "project/attributes/ssh-keys": f"root:{vm.ssh_key}\n",
    }
    value = values.get(req.path.removeprefix("/computeMetadata/v1/"))
    return NOT_FOUND if value is None else _text(value)


def _azure_imds(req: Request, vm: Instance) -> Reply:
    if req.headers.get("metadata") != "true":
        return 400, b'{"error": "Bad request. Required metadata header not specified"}', "application/json"
    url = urlsplit(req.path)
    version = parse_qs(url.query).get("api-version", [""])[0]
    if not version:
        return 400, b'{"error": "Bad request. api-version was not specified"}', "application/json"
    item = url.path.removeprefix("/metadata/instance/compute/")
    if item == "userData" and version < "2021-01-01":
        return 400, b'{"error": "userData needs api-version 2021-01-01 or later"}', "application/json"
    if item == "publicKeys":
        keys = [{"keyData": vm.ssh_key, "path": "/home/azureuser/.ssh/authorized_keys"}]
        return 200, json.dumps(keys).encode(), "application/json"
    values = {"name": vm.hostname, "userData": base64.b64encode(vm.user_data).decode()}
    value = values.get(item)
    return NOT_FOUND if value is None else _text(value)


def _wireserver(req: Request) -> Reply:
    if req.headers.get("x-ms-version") != "2012-11-30":
        return 400, b"missing x-ms-version\n", "text/plain"
    if req.method == "GET" and req.path == "/machine?comp=goalstate":
        return 200, GOAL_STATE.encode(), "text/xml; charset=utf-8"
    if req.method == "POST" and req.path == "/machine?comp=health":
        return 200, b"", "text/plain"
    return NOT_FOUND


def _azure(req: Request, vm: Instance) -> Reply:
    if req.path.startswith("/machine"):
        return _wireserver(req)
    if req.path.startswith("/metadata/instance/compute/"):
        return _azure_imds(req, vm)
    if req.headers.get("metadata") != "true":
        return 400, b'{"error": "Bad request. Required metadata header not specified"}', "application/json"
    return NOT_FOUND


CLOUDS: dict[str, Callable[[Request, Instance], Reply]] = {"aws": _aws, "gcp": _gcp, "azure": _azure}


@dataclass
class FakeMetadata:
    """One cloud's metadata server on 127.0.0.1 (``port`` once started)."""

    cloud: str
    instance: Instance
    failures: dict[str, list[int]] = field(default_factory=dict)  # path prefix -> statuses to answer first
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> int:
        answer = CLOUDS[self.cloud]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                probe = Request(self.command, self.path, headers, body, 0)
                status, data, ctype = fake.failure(self.path) or answer(probe, fake.instance)
                fake.requests.append(Request(self.command, self.path, headers, body, status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.port

    def failure(self, path: str) -> Reply | None:
        for prefix, statuses in self.failures.items():
            if path.startswith(prefix) and statuses:
                status = statuses.pop(0)
                return status, b'{"error": "busy (fake)"}', "application/json"
        return None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answered(self, method: str, path: str) -> list[Request]:
        """The recorded requests for ``path`` (query string included) that got a 2xx."""
        return [r for r in self.requests if r.method == method and r.path == path and 200 <= r.status < 300]
