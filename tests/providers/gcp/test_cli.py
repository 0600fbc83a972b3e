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
    assert "(cli-os) sent " in capsys.readouterr().out
    body = compute.recorded("POST", r"/global/images$")[0].body or {}
    assert {f["type"] for f in body["guestOsFeatures"]} == {"VIRTIO_SCSI_MULTIQUEUE", "GVNIC", "IDPF"}
    assert body["family"] == "cli" and body["labels"]["env"] == "test"

    assert main(["run", "gcp", *flags, "--data", '{"a":{"content":"b"}}', "--console", "--zone", "us-east1-b",
                 "--machine-type", "e2-micro"]) == 0
    out = capsys.readouterr().out
    assert "cli-os\tRUNNING\t203.0.113.7" in out and "cli-os: Welcome to LinuxKit" in out
    run = compute.recorded("POST", r"/zones/us-east1-b/instances$")[0].body or {}
    assert {"key": "user-data", "value": '{"a":{"content":"b"}}'} in run["metadata"]["items"]
    assert run["machineType"] == "zones/us-east1-b/machineTypes/e2-micro"


def test_push_json_and_reuse(flags: list[str], bucket: str, raw_disk: Path, compute: FakeCompute,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "push", "gcp", str(raw_disk), *flags, "--bucket", bucket]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["name"].startswith("disk-") and first["provider"] == "gcp" and first["reused"] is False
    assert first["scope"] == {"project": "lk-cli"} and first["family"] == "disk"
    assert main(["--json", "push", "gcp", str(raw_disk), *flags, "--bucket", bucket]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["reused"] is True and again["id"] == first["id"]


@pytest.mark.parametrize(
    "case",
    [
        (["--name", "Bad_Name"], "image name 'Bad_Name' is not a valid GCE name"),
        (["--guest-os-feature", "WARP"], "unknown guest OS feature WARP"),
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
    assert main(["fleet", "refresh", "gcp", *fleet, "--image", "os-b", "--canary", "50", "--pause", "0"]) == 0
    assert main(["fleet", "scale", "gcp", *fleet, "--size", "4"]) == 0
    capsys.readouterr()
    assert main(["--json", "fleet", "status", "gcp", *fleet]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["size"] == 4 and status["state"] == "stable" and len(status["instances"]) == 4
    assert status["image"].endswith("/global/images/os-b")
    canary = compute.recorded("PATCH", r"/regions/europe-west4/instanceGroupManagers/web$")[0].body or {}
    assert canary["versions"][1]["targetSize"] == {"percent": 50}
    assert compute.health_checks and compute.firewalls
    assert main(["fleet", "delete", "gcp", *fleet, "--yes"]) == 0
    assert compute.groups == {} and compute.templates == {}
    assert compute.health_checks == {} and compute.firewalls == {}


def test_refresh_to_an_image_failing_its_health_check_exits_1(push_argv: list[str], flags: list[str],
                                                               compute: FakeCompute,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*push_argv, "--name", "os-a"]) == 0
    assert main([*push_argv, "--name", "os-b"]) == 0
    assert main(["fleet", "create", "gcp", "web", *flags, "--image", "os-a", "--size", "2"]) == 0
    compute.unhealthy_images.add("os-b")
    capsys.readouterr()
    assert main(["fleet", "refresh", "gcp", "web", *flags, "--image", "os-b"]) == 1
    out = capsys.readouterr().out
    assert "refresh FAILED" in out and "rolled back" in out
    capsys.readouterr()
    assert main(["--json", "fleet", "status", "gcp", "web", *flags]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["image"].endswith("/global/images/os-a") and len(status["instances"]) == 2
    assert {i["health"] for i in status["instances"]} == {"healthy"}


@pytest.mark.slow
def test_images_list_and_prune(flags: list[str], bucket: str, raw_disk: Path, compute: FakeCompute,
                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("img-1", "img-2", "img-3"):
        assert main(["push", "gcp", str(raw_disk), *flags, "--bucket", bucket, "--name", name, "--family", "fam"]) == 0
    capsys.readouterr()
    assert main(["--json", "images", "list", "gcp", *flags, "--family", "fam"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["img-3", "img-2", "img-1"]
    assert main(["images", "prune", "gcp", *flags, "--keep", "1", "--yes"]) == 0
    assert "img-1" in capsys.readouterr().out
    assert sorted(compute.images) == ["img-3"]


def test_help_speaks_the_shared_vocabulary(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["fleet", "refresh", "gcp", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--canary" in out and "percent" in out and "--project" in out and "--region" in out
    assert main(["run", "gcp", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--instance-type" in out and "--machine-type" in out and "--arch" in out


def test_cli_imports_no_google_sdk() -> None:
    code = ("import sys; from lkcloud.cli.main import main; import lkcloud_gcp.options; "
            "sys.exit(any(m.startswith('google') for m in sys.modules))")
    run([sys.executable, "-c", code], env={"PYTHONPATH": f"{ROOT}:{ROOT / 'providers'}"})


def test_fleet_file_refresh_of_a_regional_group(push_argv: list[str], compute: FakeCompute, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet file's update policy (max_surge 1) against a group spanning three zones."""
    assert main([*push_argv, "--name", "os-a"]) == 0
    assert main([*push_argv, "--name", "os-b"]) == 0
    monkeypatch.setenv("LKCLOUD_GCP_PROJECT", "lk-cli")
    fleet = tmp_path / "web.yml"
    fleet.write_text("name: web\nprovider: gcp\nimage: os-a\nsize: 2\nupdate: {max_surge: 1, max_unavailable: 0}\n")
    assert main(["fleet", "create", str(fleet)]) == 0
    fleet.write_text(fleet.read_text().replace("image: os-a", "image: os-b"))
    assert main(["fleet", "refresh", str(fleet)]) == 0
    (patch,) = compute.recorded("PATCH", r"/instanceGroupManagers/web$")
    policy = (patch.body or {})["updatePolicy"]
    assert policy["maxSurge"] == {"fixed": 3} and policy["maxUnavailable"] == {"fixed": 0}
    members = compute.members[("us-central1", "web")]
    assert {m["template"].rsplit("/", 1)[-1] for m in members} == set(compute.templates)
