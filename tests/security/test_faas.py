"""HTTP clients of the FaaS worker's port (issue 17, item 6).

Anyone who reaches port 8080 is a client. Once a header line every 4 s held a handler 28 s
against a 10 s limit, each header line forked two processes, ``nc -ll`` forked without limit,
and every request could fill the shared 64 MiB ``/tmp``. The handler (pkg/faas-runtime) runs
here on the host under busybox, one process per request as ``nc -e`` runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

HANDLER = ROOT / "pkg" / "faas-runtime" / "rootfs" / "usr" / "bin" / "faas-handle"
pytestmark = pytest.mark.skipif(shutil.which("busybox") is None, reason="the handler runs under busybox")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "hello").write_text('echo "hello, $(cat)"\n')
    (functions / "flood").write_text("head -c 3145728 /dev/zero\n")
    (tmp_path / "version").write_text("7\n")
    return {"FAAS_DIRS": str(functions), "FAAS_VERSION_FILE": str(tmp_path / "version"), "FAAS_TIMEOUT": "5",
            "TMPDIR": str(tmp_path), "FAAS_READ_SECONDS": "30", "PATH": "/usr/bin:/bin"}


def start(env: dict[str, str], *prefix: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*prefix, "busybox", "sh", str(HANDLER)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)


def status_of(out: bytes) -> int:
    return int(out.split(b" ", 2)[1])


def request(env: dict[str, str], raw: bytes) -> tuple[int, bytes]:
    proc = start(env)
    out, _ = proc.communicate(raw, timeout=60)
    return status_of(out), out.partition(b"\r\n\r\n")[2]


def post(path: str, body: bytes = b"", headers: int = 0) -> bytes:
    extra = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(headers))
    return f"POST {path} HTTP/1.1\r\nHost: w\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_one_deadline_for_the_whole_request(env: dict[str, str]) -> None:
    # One header line every 0.5 s: each line is quick, the request never ends.
    env["FAAS_READ_SECONDS"] = "2"
    proc = start(env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"POST /function/hello HTTP/1.1\r\n")
    proc.stdin.flush()
    sent = 0
    for sent in range(1, 41):  # 20 s of slow headers at most
        time.sleep(0.5)
        if proc.poll() is not None:
            break
        try:
            proc.stdin.write(f"X-Slow-{sent}: {sent}\r\n".encode())
            proc.stdin.flush()
        except BrokenPipeError:
            break
    out = proc.stdout.read()
    proc.wait(30)
    assert status_of(out) == 408
    assert sent < 40, "the handler kept reading slow headers past its deadline"


def processes_for(env: dict[str, str], raw: bytes) -> int:
    """How many processes handling ``raw`` created: the handler runs in a new PID namespace, and
    the next PID given out there after it counts them."""
    script = f'busybox sh {HANDLER} > /dev/null 2>&1; sh -c "echo \\$\\$"'
    done = subprocess.run(["unshare", "--pid", "--fork", "sh", "-c", script], input=raw, env=env,
                          capture_output=True, check=True, timeout=60)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_no_process_per_header_line(env: dict[str, str]) -> None:
    try:
        few = processes_for(env, post("/function/hello", b"x"))
    except subprocess.CalledProcessError:
        pytest.skip("cannot make a PID namespace here")
    many = processes_for(env, post("/function/hello", b"x", headers=90))
    assert many - few <= 2, f"{many - few} more processes for 90 more header lines"


@pytest.mark.parametrize(("headers", "status"), [(98, 200), (120, 431)])
def test_header_count_is_capped(env: dict[str, str], headers: int, status: int) -> None:
    assert request(env, post("/function/hello", b"x", headers=headers))[0] == status


def test_header_line_size_is_capped(env: dict[str, str]) -> None:
    raw = b"POST /function/hello HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\nContent-Length: 0\r\n\r\n"
    assert request(env, raw)[0] == 431
    assert request(env, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")[0] == 431


@pytest.mark.parametrize("length", ["99999999999999999999999", "1048577", "-1", "1e3"])
def test_body_length_is_checked_before_reading(env: dict[str, str], length: str) -> None:
    raw = f"POST /function/hello HTTP/1.1\r\nContent-Length: {length}\r\n\r\n".encode()
    assert request(env, raw)[0] in (400, 413)


def test_requests_past_the_cap_get_503(env: dict[str, str], tmp_path: Path) -> None:
    env["FAAS_MAX_REQUESTS"] = "2"
    holders = [start(env) for _ in range(2)]  # connected, sending nothing
    try:
        slots = tmp_path / "faas-slots"
        for _ in range(200):
            if len([p for p in slots.glob("*/pid") if p.read_text().strip()]) == 2:
                break
            time.sleep(0.05)
        status, body = request(env, post("/function/hello", b"x"))
        assert status == 503 and b"busy" in body
    finally:
        for proc in holders:
            proc.communicate(post("/function/hello", b"x"), timeout=60)
    assert request(env, post("/function/hello", b"again"))[0] == 200  # the slots were given back


def test_a_slot_of_a_killed_handler_is_taken_over(env: dict[str, str], tmp_path: Path) -> None:
    env["FAAS_MAX_REQUESTS"] = "1"
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "faas-slots" / "0").mkdir(parents=True)
    (tmp_path / "faas-slots" / "0" / "pid").write_text(f"{dead.pid}\n")
    assert request(env, post("/function/hello", b"x")) == (200, b"hello, x\n")


def test_function_output_is_capped(env: dict[str, str]) -> None:
    env["FAAS_MAX_OUTPUT"] = str(1 << 20)
    status, body = request(env, post("/function/flood"))
    assert status == 500 and b"wrote more than 1048576 bytes" in body
