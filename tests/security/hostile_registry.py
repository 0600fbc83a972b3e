"""A registry that misbehaves on purpose: asks every client for credentials, points token
requests at a plain-HTTP realm, redirects blobs to another host, serves oversized manifests,
more bytes than it declared, or a byte at a time. It records what it was sent.

Only the distribution API's read path is modelled (``GET/HEAD /v2/<name>/manifests|blobs/<ref>``),
as the Docker Registry HTTP API V2 describes it; the misbehaviour is what each test sets.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.net import serving


@dataclass
class Hostile:
    manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # tag or digest -> (bytes, type)
    blobs: dict[str, bytes] = field(default_factory=dict)
    challenge: str | None = None  # WWW-Authenticate sent with a 401 to requests without Authorization
    redirect_blobs_to: str | None = None  # base URL serving GET /blob/<digest>
    redirect_query: str = ""  # a query the redirect adds (a signature, as CDNs sign blob URLs)
    chunked: bool = False  # send bodies without Content-Length
    extra: int = 0  # bytes of zeros sent after each blob (more than declared)
    trickle: float = 0.0  # seconds between single bytes of a body...
    trickle_paths: str = "/blobs/"  # ...whose path holds this
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Authorization)
    sent: int = 0  # body bytes written before the client went away

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.seen]


def _handler(state: Hostile) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _head(self, status: int, headers: dict[str, str], length: int | None) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if length is None:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(length))
            self.end_headers()

        def _body(self, data: bytes, *, chunked: bool) -> None:
            with contextlib.suppress(OSError):
                if state.trickle and state.trickle_paths in self.path:
                    for i in range(len(data)):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        state.sent += 1
                        time.sleep(state.trickle)
                    return
                step = 1 << 16
                for start in range(0, len(data), step):
                    part = data[start:start + step]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                    state.sent += len(part)
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")

        def _send(self, status: int, data: bytes, headers: dict[str, str], declared: int | None = None) -> None:
            chunked = state.chunked and self.command != "HEAD"
            self._head(status, headers, None if chunked else (len(data) if declared is None else declared))
            if self.command != "HEAD":
                self._body(data, chunked=chunked)

        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            state.seen.append((self.command, self.path, auth))
            if self.path.startswith("/blob/"):
                self._send(200, state.blobs.get(self.path[6:].split("?", 1)[0], b""), {})
                return
            if state.challenge and auth is None and self.path.startswith("/v2/"):
                self._send(401, b"{}", {"WWW-Authenticate": state.challenge})
                return
            ref = self.path.rsplit("/", 1)[1]
            if "/manifests/" in self.path and ref in state.manifests:
                data, kind = state.manifests[ref]
                self._send(200, data, {"Content-Type": kind})
            elif "/blobs/" in self.path and state.redirect_blobs_to:
                query = f"?{state.redirect_query}" if state.redirect_query else ""
                self._send(307, b"", {"Location": f"{state.redirect_blobs_to}/blob/{ref}{query}"})
            elif "/blobs/" in self.path and ref in state.blobs:
                data = state.blobs[ref]
                self._send(200, data + bytes(state.extra), {"Content-Type": "application/octet-stream"},
                           declared=len(data) + state.extra)
            else:
                self._send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"unknown"}]}', {})

        do_HEAD = do_GET

    return Handler


@contextlib.contextmanager
def hostile_registry(state: Hostile, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """Serve ``state`` on a free 127.0.0.1 port (HTTPS with ``tls``); yields the port."""
    with serving(_handler(state), tls) as port:
        yield port
