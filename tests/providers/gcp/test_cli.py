"""The gcp commands end to end: `lkcloud push|run|fleet|images … gcp` against the emulators."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.process import run
from tests.conftest import ROOT
from tests.servers.fake_compute import FakeCompute

pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True)
def _options() -> Iterator[None]:
    yield
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


@pytest.fixture
def flags(gcp_env: dict[str, str], bucket: str) -> list[str]:
    return ["--project", "lk-cli"]


@pytest.fixture
def push_argv(flags: list[str], bucket: str, raw_disk: Path) -> list[str]:
    return ["push", "gcp", str(raw_disk), *flags, "--bucket", bucket]


def test_push_then_run_the_last_push(flags: list[str], bucket: str, raw_disk: Path, compute: FakeCompute,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "gcp", str(raw_disk), *flags, "--bucket", bucket, "--name", "cli-os", "--family", "cli",
                 "--boot-mode", "bios", "--guest-os-feature", "IDPF", "--label", "env=test"]) == 0
    assert "cli-os: " in capsys.readouterr().out
    body = compute.recorded("POST", r"/global/images$")[0].body or {}
    assert {f["type"] for f in body["guestOsFeatures"]} == {"VIRTIO_SCSI_MULTIQUEUE", "GVNIC", "IDPF"}

    assert main(["run", "gcp", *flags, "--data", '{"a":{"content":"b"}}', "--console", "--zone", "us-east1-b"]) == 0
    out = capsys.readouterr().out
    assert "cli-os\tRUNNING\t203.0.113.7" in out and "welcome to LinuxKit" in out
    run = compute.recorded("POST", r"/zones/us-east1-b/instances$")[0].body or {}
    assert {"key": "user-data", "value": '{"a":{"content":"b"}}'} in run["metadata"]["items"]


def test_push_json(flags: list[str], bucket: str, raw_disk: Path, compute: FakeCompute,
                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "push", "gcp", str(raw_disk), *flags, "--bucket", bucket]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["name"] == "disk" and result["provider"] == "gcp" and result["reused"] is False


@pytest.mark.parametrize(
    "case",
    [
        (["--name", "Bad_Name"], "image name 'Bad_Name' is not a valid GCE name"),
        (["--family", "-x"], "image family '-x' is not a valid GCE name"),
        (["--bucket", "does-not-exist"], "bucket 'does-not-exist' does not exist"),
    ],
)
def test_push_bad_input_exits_2(push_argv: list[str], compute: FakeCompute, capsys: pytest.CaptureFixture[str],
                                case: tuple[list[str], str]) -> None:
    argv, message = case
    assert main([*push_argv, *argv]) == 2
    err = capsys.readouterr().err
    assert f"lkcloud: error: {message}" in err and "Traceback" not in err
    assert compute.recorded("POST", r"/global/images$") == []


def test_no_project_exits_2(gcp_env: dict[str, str], raw_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "gcp", str(raw_disk), "--bucket", "b"]) == 2
    err = capsys.readouterr().err
    assert "lkcloud: error: no GCP project given" in err and "lkcloud: hint:" in err


def test_bad_yaml_is_reported_with_its_line(flags: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "os.yml"
    config.write_text("kernel:\n  image: linuxkit/kernel:6.6\n  bogus: 1\n")
    assert main(["push", "gcp", str(config), *flags]) == 2
    assert f"{config}:3: kernel.bogus" in capsys.readouterr().err


@pytest.mark.slow
def test_fleet_lifecycle(flags: list[str], bucket: str, raw_disk: Path, compute: FakeCompute,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "gcp", str(raw_disk), *flags, "--bucket", bucket, "--name", "os-a"]) == 0
    assert main(["push", "gcp", str(raw_disk), *flags, "--bucket", bucket, "--name", "os-b"]) == 0
    fleet = ["web", *flags, "--region", "europe-west4"]
    assert main(["fleet", "create", "gcp", *fleet, "--image", "os-a", "--size", "2", "--data", "{}"]) == 0
    assert main(["fleet", "refresh", "gcp", *fleet, "--image", "os-b", "--canary", "1", "--max-surge", "0",
                 "--max-unavailable", "3"]) == 0
    assert main(["fleet", "scale", "gcp", *fleet, "--size", "4"]) == 0
    capsys.readouterr()
    assert main(["--json", "fleet", "status", "gcp", *fleet]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["size"] == 4 and status["state"] == "stable" and len(status["instances"]) == 4
    patch = compute.recorded("PATCH", r"/regions/europe-west4/instanceGroupManagers/web$")[0].body or {}
    assert patch["versions"][1]["targetSize"] == {"fixed": 1}
    assert main(["fleet", "delete", "gcp", *fleet]) == 0
    assert compute.groups == {} and compute.templates == {}


@pytest.mark.slow
def test_images_list_and_prune(flags: list[str], bucket: str, raw_disk: Path, compute: FakeCompute,
                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("img-1", "img-2", "img-3"):
        assert main(["push", "gcp", str(raw_disk), *flags, "--bucket", bucket, "--name", name, "--family", "fam"]) == 0
    capsys.readouterr()
    assert main(["--json", "images", "list", "gcp", *flags, "--family", "fam"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["img-3", "img-2", "img-1"]
    assert main(["images", "prune", "gcp", *flags, "--keep", "1"]) == 0
    assert "img-1" in capsys.readouterr().out
    assert sorted(compute.images) == ["img-3"]


def test_cli_module_imports_no_google_sdk() -> None:
    code = ("import sys; import lkcloud.cli.main; import lkcloud_gcp.cli; "
            "sys.exit(any(m.startswith('google') for m in sys.modules))")
    run([sys.executable, "-c", code], env={"PYTHONPATH": f"{ROOT}:{ROOT / 'providers'}"})
