"""A tiny stateful fake registry for what a real one will not do: serve corrupt blobs, redirect
blobs to another host, fail transiently. Serves manifests and blobs from dicts, records requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.net import serving


@dataclass
class FakeState:
    manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # tag or digest -> (bytes, type)
    blobs: dict[str, bytes] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)  # digests served with a flipped byte
    redirect_blobs_to: str | None = None  # base URL of another host serving /blob/<digest>
    require_basic: str | None = None  # expected Authorization value
    failures: dict[str, int] = field(default_factory=dict)  # path suffix -> 503s left to answer
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Authorization)


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _fail_transiently(self) -> bool:
            for suffix, left in state.failures.items():
                if self.path.endswith(suffix) and left > 0:
                    state.failures[suffix] = left - 1
                    self._send(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}')
                    return True
            return False

        def do_GET(self) -> None:
            state.seen.append((self.command, self.path, self.headers.get("Authorization")))
            if self._fail_transiently():
                return
            if state.require_basic and self.path.startswith("/v2/") and (
                self.headers.get("Authorization") != state.require_basic
            ):
                self._send(401, b"", {"WWW-Authenticate": 'Basic realm="fake"'})
                return
            if "/manifests/" in self.path:
                found = state.manifests.get(self.path.rsplit("/", 1)[1])
                if found is None:
                    self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}')
                    return
                self._send(200, found[0], {"Content-Type": found[1]})
                return
            digest = self.path.rsplit("/", 1)[1]
            if "/blobs/" in self.path and state.redirect_blobs_to:
                self._send(307, b"", {"Location": f"{state.redirect_blobs_to}/blob/{digest}"})
                return
            data = state.blobs.get(digest)
            if data is None:
                self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}')
                return
            if digest in state.corrupt:
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            self._send(200, data, {"Content-Type": "application/octet-stream"})

        do_HEAD = do_GET

    return Handler


@contextmanager
def fake_registry(state: FakeState) -> Iterator[int]:
    """Serve ``state`` on 127.0.0.1; yields the port."""
    with serving(_handler(state)) as port:
        yield port
