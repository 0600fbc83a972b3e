"""moto in server mode on 127.0.0.1, extended with the AWS behaviour lkcloud relies on.

Run as ``python tests/servers/moto_server.py --port N``. Before serving, it adds handlers to
moto's response classes (``moto_ext_*`` modules) for what moto lacks or gets wrong, and for how
AWS really behaves where lkcloud depends on it (eventual consistency, throttling, slow states:
switched on per test, see ``moto_ext_behaviour``), and wraps the WSGI app with ``/_lkcloud/``
introspection (request counts) and control for tests. This extends the fake server; the SDK
client under test is never touched.

Also importable: :func:`start` runs it as a subprocess and returns (process, endpoint).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

HERE = Path(__file__).resolve().parent
_BLOCK_PUT = re.compile(r"^/snapshots/(snap-[0-9a-f]+)/blocks/(\d+)$")


def _action(environ: dict[str, Any], body: bytes | None) -> str:
    """The API action a request names: the form's Action, the JSON target, or the REST path."""
    if body is not None:
        found = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if found:
            return found[0]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    for pattern, wanted, name in _REST:
        if pattern.match(path) and method == wanted:
            return name
    if "partNumber" in query:
        return "UploadPart"
    if "uploadId" in query:
        return {"POST": "CompleteMultipartUpload", "GET": "ListParts", "DELETE": "AbortMultipartUpload"}.get(method, "")
    if "uploads" in query:
        return "CreateMultipartUpload" if method == "POST" else "ListMultipartUploads"
    return f"{method} {path}"


_REST = (
    (_BLOCK_PUT, "PUT", "PutSnapshotBlock"),
    (re.compile(r"^/snapshots$"), "POST", "StartSnapshot"),
    (re.compile(r"^/snapshots/completion/"), "POST", "CompleteSnapshot"),
    (re.compile(r"^/snapshots/[^/]+/blocks$"), "GET", "ListSnapshotBlocks"),
    (re.compile(r"^/snapshots/[^/]+/blocks/\d+$"), "GET", "GetSnapshotBlock"),
    (re.compile(r"^/snapshots/[^/]+/changedblocks$"), "GET", "ListChangedBlocks"),
)


class Inspector:
    """WSGI middleware: counts requests (per API action, PutSnapshotBlock per snapshot and block),
    and answers
    ``GET /_lkcloud/counts``, ``POST /_lkcloud/reset-counts``, ``POST /_lkcloud/behave`` (switch
    behaviours on) and ``POST /_lkcloud/reset`` (all off, counts cleared)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], behaviour: Any) -> None:
        self.app = app
        self.behaviour = behaviour  # the moto_ext_behaviour module
        self.puts: Counter[str] = Counter()
        self.bytes = 0
        self.requests: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _count(self, environ: dict[str, Any]) -> None:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = None
        if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "") and length < (1 << 20):
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        action = _action(environ, body)
        with self.lock:
            self.requests[method] += 1
            self.actions[action] += 1
            self.bytes += length
            match = _BLOCK_PUT.match(path)
            if method == "PUT" and match:
                self.puts[f"{match.group(1)}/{match.group(2)}"] += 1

    def _clear(self) -> None:
        self.puts.clear()
        self.requests.clear()
        self.actions.clear()
        self.bytes = 0

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ["PATH_INFO"]
        status = "200 OK"
        with self.lock:
            if path == "/_lkcloud/behave":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    self.behaviour.update(json.loads(environ["wsgi.input"].read(length) or b"{}"))
                except (KeyError, ValueError) as exc:
                    status = "400 Bad Request"
                    body = json.dumps({"error": str(exc)})
            if path in ("/_lkcloud/reset-counts", "/_lkcloud/reset"):
                self._clear()
            if path == "/_lkcloud/reset":
                self.behaviour.reset()
            if status.startswith("200"):
                body = json.dumps({"puts": dict(self.puts), "bytes": self.bytes, "requests": dict(self.requests),
                                   "actions": dict(self.actions)})
        start_response(status, [("Content-Type", "application/json")])
        return [body.encode()]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_lkcloud/"):
            return self._answer(environ, start_response)
        self._count(environ)
        return self.app(environ, start_response)


def serve(port: int) -> None:
    sys.path.insert(0, str(HERE))  # the extensions import each other by name, as moto's handlers run here
    import moto_ext_behaviour as behaviour
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    for name in ("moto_ext_ebs", "moto_ext_ebs_lineage", "moto_ext_images", "moto_ext_ec2", "moto_ext_autoscaling",
                 "moto_ext_s3", "moto_ext_ssm"):
        importlib.import_module(name).install()

    class Handler(MotoRequestHandler):  # type: ignore[misc]
        def date_time_string(self, timestamp: float | None = None) -> str:
            # The server's clock in the Date header, so that a test can age what it answered before.
            return formatdate(time.time() + float(behaviour.get("clock_offset")), usegmt=True)

    app = Inspector(DomainDispatcherApplication(create_backend_app), behaviour)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=Handler)
    sys.stdout.write(f"listening on 127.0.0.1:{port}\n")
    sys.stdout.flush()
    server.serve_forever()


def start(port: int, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the extended moto server as a subprocess in its own session."""
    out = log.open("wb") if log else subprocess.DEVNULL
    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    return subprocess.Popen([sys.executable, str(HERE / "moto_server.py"), "--port", str(port)],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)


if __name__ == "__main__":
    main()
