"""Region, credentials and first contact: what users meet first, before anything is built."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.errors import UsageError
from tests.providers.aws.conftest import SMALL, Moto, provider, random_image
from tests.support.net import serving

pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True)
def _reset_options() -> None:
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def test_aws_region_is_honoured_before_aws_default_region(aws_env: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert provider().aws.region == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert provider().aws.region == "eu-west-1", "AWS_REGION wins over AWS_DEFAULT_REGION"
    monkeypatch.setenv("LKCLOUD_AWS_REGION", "ap-south-1")
    assert provider().aws.region == "ap-south-1"
    assert provider(region="ca-central-1").aws.region == "ca-central-1"


@pytest.fixture
def profiles(aws_env: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A config file with a ``dev`` profile (its own region) and its credentials; none in the environment."""
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text("[profile dev]\nregion = ap-southeast-2\n")
    credentials.write_text("[dev]\naws_access_key_id = dev\naws_secret_access_key = dev\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)


def test_profile_from_the_flag_or_aws_profile(profiles: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert provider(profile="dev").aws.region == "ap-southeast-2"
    monkeypatch.setenv("AWS_PROFILE", "dev")
    made = provider()
    assert made.aws.region == "ap-southeast-2" and made.aws.session.get_credentials().access_key == "dev"
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert provider().aws.region == "eu-west-1", "the environment wins over the profile's region"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_missing_profile_is_one_line(profiles: None, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str], how: str) -> None:
    with pytest.raises(UsageError, match="AWS profile 'nope' not found"):
        provider(profile="nope")
    argv = ["images", "list", "aws"]
    if how == "flag":
        argv += ["--profile", "nope"]
    else:
        monkeypatch.setenv("AWS_PROFILE", "nope")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "lkcloud: error: AWS profile 'nope' not found" in err and "Traceback" not in err
    assert "internal error" not in err


def test_no_credentials_fail_before_the_build(aws_env: Moto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    config = tmp_path / "docker.yml"
    config.write_text("kernel:\n  image: linuxkit/kernel:6.6.13\n")
    assert main(["push", "aws", str(config)]) == 1
    assert "lkcloud: error: no AWS credentials found" in capsys.readouterr().err
    assert not (tmp_path / ".lkcloud" / "build").exists(), "nothing was built"


@pytest.fixture
def silent() -> Iterator[tuple[str, list[int]]]:
    """An endpoint that accepts connections and never answers; the connections it accepted."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[int] = []
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(1)
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_an_endpoint_that_never_answers_is_one_bounded_try(aws_env: Moto, silent: tuple[str, list[int]],
                                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    endpoint, accepted = silent
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("LKCLOUD_AWS_READ_TIMEOUT", "0.5")
    disk = random_image(tmp_path / "myos.raw", size=SMALL, blocks=1, mbr=True)
    assert main(["push", "aws", str(disk)]) == 1
    err = capsys.readouterr().err
    assert f"contacting AWS in us-east-1 at {endpoint}" in err
    assert f"no answer from {endpoint}" in err and "Traceback" not in err
    assert len(accepted) == 1, "the first call is not retried against an endpoint that never answered"


class _NotAws(BaseHTTPRequestHandler):
    status = 404

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html><body><h1>Not Found</h1>a corporate proxy</body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer


class _Portal(_NotAws):
    status = 200


@pytest.mark.parametrize("handler", [_NotAws, _Portal])
def test_an_answer_that_is_not_aws_is_one_line(aws_env: Moto, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str],
                                               handler: type[BaseHTTPRequestHandler]) -> None:
    with serving(handler) as port:
        endpoint = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        assert main(["images", "list", "aws"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("lkcloud: error:")]
    assert len(lines) == 1 and endpoint in lines[0] and "text/html" in lines[0], err
    assert "parse" not in err.lower() and "Traceback" not in err
