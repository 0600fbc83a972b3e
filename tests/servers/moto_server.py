"""moto in server mode on 127.0.0.1, extended with the AWS behaviour lkcloud relies on.

Run as ``python tests/servers/moto_server.py --port N``. Before serving, it adds handlers to
moto's response classes (``moto_ext_*`` modules) for what moto lacks or gets wrong, and wraps the
WSGI app with ``/_lkcloud/`` introspection (request counts) for tests. This extends the fake
server; the SDK client under test is never touched.

Also importable: :func:`start` runs it as a subprocess and returns (process, endpoint).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_BLOCK_PUT = re.compile(r"^/snapshots/(snap-[0-9a-f]+)/blocks/(\d+)$")


class Inspector:
    """WSGI middleware: counts PutSnapshotBlock per (snapshot, index) and S3 part uploads,
    and answers ``GET /_lkcloud/counts`` and ``POST /_lkcloud/reset-counts``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.puts: Counter[str] = Counter()
        self.bytes = 0
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _count(self, environ: dict[str, Any]) -> None:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        with self.lock:
            self.requests[method] += 1
            self.bytes += length
            match = _BLOCK_PUT.match(path)
            if method == "PUT" and match:
                self.puts[f"{match.group(1)}/{match.group(2)}"] += 1

    def _answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            if environ["PATH_INFO"] == "/_lkcloud/reset-counts":
                self.puts.clear()
                self.requests.clear()
                self.bytes = 0
            body = json.dumps({"puts": dict(self.puts), "bytes": self.bytes, "requests": dict(self.requests)})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/_lkcloud/"):
            return self._answer(environ, start_response)
        self._count(environ)
        return self.app(environ, start_response)


def serve(port: int) -> None:
    sys.path.insert(0, str(HERE))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    for name in ("moto_ext_ebs", "moto_ext_ec2", "moto_ext_autoscaling"):
        importlib.import_module(name).install()
    app = Inspector(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
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
