"""The function runtime's HTTP handler (pkg/faas-runtime), run on the host under busybox."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.process import run
from tests.conftest import ROOT

HANDLER = ROOT / "pkg" / "faas-runtime" / "rootfs" / "usr" / "bin" / "faas-handle"


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, str]:
    config, image = tmp_path / "config", tmp_path / "image"
    config.mkdir()
    image.mkdir()
    (config / "hello").write_text('echo "hello, $(cat)"\n')
    (image / "hello").write_text("echo from the image\n")
    (image / "fail").write_text("echo broken >&2\nexit 3\n")
    (image / "slow").write_text("sleep 5\n")
    (tmp_path / "version").write_text("7\n")
    return {"FAAS_DIRS": f"{config} {image}", "FAAS_VERSION_FILE": str(tmp_path / "version"), "FAAS_TIMEOUT": "1",
            "TMPDIR": str(tmp_path)}


def request(env: dict[str, str], method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    raw = f"{method} {path} HTTP/1.1\r\nHost: worker\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    out = run(["busybox", "sh", HANDLER], input=raw, env=env, timeout=30).stdout
    head, _, payload = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(headers[b"Content-Length"])
    assert len(payload) == length
    return status, payload


def test_function_gets_the_body_on_stdin(dirs: dict[str, str]) -> None:
    assert request(dirs, "POST", "/function/hello", b"world") == (200, b"hello, world\n")


def test_user_data_function_wins_over_the_image(dirs: dict[str, str]) -> None:
    status, body = request(dirs, "POST", "/function/hello")
    assert status == 200 and body.startswith(b"hello")


def test_unknown_function_is_404(dirs: dict[str, str]) -> None:
    assert request(dirs, "POST", "/function/nope")[0] == 404


def test_failing_function_is_500_with_stderr(dirs: dict[str, str]) -> None:
    assert request(dirs, "POST", "/function/fail") == (500, b"broken\n")


def test_slow_function_times_out(dirs: dict[str, str]) -> None:
    assert request(dirs, "POST", "/function/slow")[0] == 504


def test_healthz_reports_the_version(dirs: dict[str, str]) -> None:
    assert request(dirs, "GET", "/healthz") == (200, b"ok 7\n")


def test_functions_lists_both_directories(dirs: dict[str, str]) -> None:
    assert request(dirs, "GET", "/functions") == (200, b"fail\nhello\nslow\n")


@pytest.mark.parametrize(("method", "path", "status"), [
    ("POST", "/function/..%2Fetc", 400), ("POST", "/function/.hidden", 400), ("GET", "/function/hello", 405),
    ("GET", "/nowhere", 404),
])
def test_bad_requests(dirs: dict[str, str], method: str, path: str, status: int) -> None:
    assert request(dirs, method, path)[0] == status
