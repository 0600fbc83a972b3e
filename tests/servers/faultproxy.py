"""A fault-injecting HTTP/1.1 reverse proxy for tests of retrying clients.

It forwards every request to an upstream base URL (bodies streamed both ways, keep-alive on both
sides, the client's Host header kept so signatures still match) and, for requests whose
``"METHOD /path"`` matches ``Faults.match``, injects faults at ``Faults.rate`` with a seeded
random generator:

- ``reset``: the client connection is reset before the request reaches upstream;
- ``reset-after``: upstream handles the request, then the client connection is reset (the client
  cannot know it succeeded: tests idempotency);
- ``500``, ``503``: an empty server error;
- ``throttle``: 429 with a throttling body: AWS query-protocol XML for form-encoded requests
  (EC2, IAM, Auto Scaling), else JSON ``__type`` plus ``x-amzn-ErrorType`` (REST/JSON APIs);
  XML-only REST clients (S3) fall back to the status code.

``Faults.fail_after = N`` turns every matching request after the N-th forwarded one into a hard
``403`` (a non-retryable failure, like a kill in the middle of an upload); ``Faults.limit = N``
injects at most N faults (then the proxy is transparent). Counters in :attr:`FaultProxy.stats`.
Usable as a context manager::

    with FaultProxy("http://127.0.0.1:5000", Faults(rate=0.1, seed=1)) as proxy:
        client = make_client(endpoint=proxy.url)
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, BinaryIO
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
_CHUNK = 1 << 16
KINDS = ("reset", "reset-after", "500", "503", "throttle")


@dataclass(frozen=True)
class Faults:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("reset", "reset-after", "500", "503", "throttle")
    seed: int = 0
    match: str = ""  # regex searched in "METHOD /path?query"; "" matches everything
    fail_after: int | None = None
    limit: int | None = None  # at most this many faults in all


@dataclass(frozen=True)
class Canned:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


_THROTTLE = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded (fault proxy)"}).encode()
_THROTTLE_XML = (b"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>Throttling</Code>"
                 b"<Message>Rate exceeded (fault proxy)</Message></Error></Errors>"
                 b"<RequestID>fault</RequestID></Response>")
THROTTLE_XML = Canned(429, (("Content-Type", "text/xml"),), _THROTTLE_XML)
CANNED: dict[str, Canned] = {
    "500": Canned(500),
    "503": Canned(503),
    "throttle": Canned(429, (("Content-Type", "application/json"), ("x-amzn-ErrorType", "ThrottlingException")),
                       _THROTTLE),
    "hard": Canned(403, (("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")),
                   json.dumps({"__type": "AccessDeniedException", "message": "hard failure (fault proxy)"})
                   .encode()),
}


class _Body:
    """A request body of known length, read from the client as upstream consumes it."""

    def __init__(self, rfile: BinaryIO, length: int) -> None:
        self.rfile, self.left = rfile, length

    def read(self, size: int = _CHUNK) -> bytes:
        data = self.rfile.read(min(size if size > 0 else self.left, self.left)) if self.left > 0 else b""
        self.left -= len(data)
        return data


def _chunked(rfile: BinaryIO) -> Iterator[bytes]:
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return
        yield rfile.read(size)
        rfile.readline()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        proxy = self.server.proxy
        kind = proxy.decide(f"{self.command} {self.path}")
        if kind == "reset":
            self._reset()
            return
        if kind in CANNED:
            form = "x-www-form-urlencoded" in self.headers.get("Content-Type", "")
            self._drain()
            self._answer(THROTTLE_XML if kind == "throttle" and form else CANNED[kind])
            return
        self._forward(reset_after=kind == "reset-after")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def _length(self) -> int:
        return int(self.headers.get("Content-Length") or 0)

    def _is_chunked(self) -> bool:
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def _drain(self) -> None:
        if self._is_chunked():
            for _ in _chunked(self.rfile):  # type: ignore[arg-type]
                pass
            return
        body = _Body(self.rfile, self._length())  # type: ignore[arg-type]
        while body.read():
            pass

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _answer(self, canned: Canned) -> None:
        self.send_response(canned.status)
        for name, value in canned.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(canned.body)))
        self.end_headers()
        self.wfile.write(canned.body)

    def _upstream(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self, "_conn", None)
        if conn is None:
            target = self.server.proxy.upstream
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=120)
            self._conn = conn
        return conn

    def _send_request(self, conn: http.client.HTTPConnection) -> None:
        conn.putrequest(self.command, self.server.proxy.prefix + self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                conn.putheader(name, value)
        if self._is_chunked():
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for piece in _chunked(self.rfile):  # type: ignore[arg-type]
                self.server.proxy.count("bytes_up", len(piece))
                conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            conn.send(b"0\r\n\r\n")
            return
        conn.endheaders()
        body = _Body(self.rfile, self._length())  # type: ignore[arg-type]
        while piece := body.read():
            self.server.proxy.count("bytes_up", len(piece))
            conn.send(piece)

    def _forward(self, reset_after: bool) -> None:
        conn = self._upstream()
        try:
            self._send_request(conn)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException):
            conn.close()
            del self._conn
            self._reset()
            return
        self.server.proxy.count("forwarded")
        if reset_after:
            response.read()
            self._reset()
            return
        self._relay(response)

    def _relay(self, response: http.client.HTTPResponse) -> None:
        self.send_response_only(response.status, response.reason)
        length = response.getheader("Content-Length")
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        no_body = self.command == "HEAD" or response.status in (204, 304)
        if length is not None or no_body:
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            while piece := response.read(_CHUNK):
                self.wfile.write(piece)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while piece := response.read(_CHUNK):
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy


class FaultProxy:
    """The proxy: ``url`` is where clients connect; ``stats`` counts forwards and faults."""

    def __init__(self, upstream: str, faults: Faults | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = urlsplit(upstream)
        self.prefix = self.upstream.path.rstrip("/")
        self.faults = faults or Faults()
        unknown = set(self.faults.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self._random = random.Random(self.faults.seed)
        self._match = re.compile(self.faults.match) if self.faults.match else None
        self._lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self._server = _Server((host, port), _Handler)
        self._server.proxy = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def count(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self.stats[key] += amount

    def decide(self, request_line: str) -> str | None:
        """The fault for this request, if any (seeded, so a run is repeatable)."""
        with self._lock:
            if self._match is not None and not self._match.search(request_line):
                return None
            self.stats["matched"] += 1
            if self.faults.fail_after is not None and self.stats["matched"] > self.faults.fail_after:
                self.stats["hard"] += 1
                return "hard"
            if self.faults.rate <= 0 or self._random.random() >= self.faults.rate:
                return None
            if self.faults.limit is not None and self.stats["injected"] >= self.faults.limit:
                return None
            self.stats["injected"] += 1
            kind = self._random.choice(self.faults.kinds)
            self.stats[kind] += 1
            return kind

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
