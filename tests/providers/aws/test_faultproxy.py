"""The fault-injecting proxy: transparent forwarding, seeded faults, hard failure after N."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.servers.faultproxy import FaultProxy, Faults


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Host", self.headers["Host"])
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # chunked response of unknown length
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in (b"a" * 70000, b"b" * 10):
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def request(url: str, method: str, body: bytes | None = None) -> tuple[int, bytes, str | None]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, "/path", body=body)
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("X-Host")
    finally:
        conn.close()


def test_forwards_bodies_both_ways_and_keeps_host(upstream: str) -> None:
    with FaultProxy(upstream) as proxy:
        status, body, host = request(proxy.url, "PUT", b"x" * 300000)
        assert (status, body) == (200, b"x" * 300000)
        assert host == proxy.url.removeprefix("http://")
        assert request(proxy.url, "GET")[1] == b"a" * 70000 + b"b" * 10
        assert proxy.stats["bytes_up"] == 300000 and proxy.stats["forwarded"] == 2


def test_faults_are_seeded_and_counted(upstream: str) -> None:
    def run() -> tuple[list[int], dict[str, int]]:
        statuses = []
        with FaultProxy(upstream, Faults(rate=0.5, seed=42, kinds=("500", "503", "throttle", "reset"))) as proxy:
            for _ in range(40):
                try:
                    statuses.append(request(proxy.url, "PUT", b"data")[0])
                except (ConnectionError, http.client.HTTPException):
                    statuses.append(-1)
            return statuses, dict(proxy.stats)

    first, stats = run()
    assert run()[0] == first
    assert {500, 503, 429, -1, 200} <= set(first)
    assert stats["forwarded"] == first.count(200)


def test_hard_failure_after_n_matching_requests(upstream: str) -> None:
    with FaultProxy(upstream, Faults(match="^PUT ", fail_after=2)) as proxy:
        assert [request(proxy.url, "PUT", b"1")[0] for _ in range(4)] == [200, 200, 403, 403]
        assert request(proxy.url, "GET")[0] == 200
