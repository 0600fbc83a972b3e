"""One contract, every provider (issue 14): the same scenarios through the same commands against
AWS (moto and our extensions), GCP (gcp-storage-emulator and the fake Compute API), Azure
(Azurite and the fake Resource Manager) and QEMU (real VMs):

- a second push of the same content reuses the first image;
- ``run`` with no image runs the image last pushed from this directory;
- prune keeps the newest N images of a family and every image a fleet uses;
- a refresh to a broken image stops: exit 1, the old image still serving;
- ``fleet status --json`` has the same keys on every provider.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.provider.types import FleetStatus, Instance
from tests.providers.aws.conftest import aws_env, moto  # noqa: F401 (fixtures)
from tests.providers.azure.conftest import arm, azure_env, azurite_url, container, tls  # noqa: F401
from tests.providers.azure.vhds import make_vhd
from tests.providers.gcp.conftest import bucket, compute, gcp_env, gcs_url  # noqa: F401
from tests.support.workers import Images

MIB = 1 << 20
STATUS_KEYS = {f.name for f in dataclasses.fields(FleetStatus)}
INSTANCE_KEYS = {f.name for f in dataclasses.fields(Instance)}


@dataclass
class Cloud:
    name: str
    flags: list[str]  # what every command needs here (a project, a bucket...)
    push_flags: list[str]
    image: Callable[[Path, int], Path]  # a small image of a kind the provider takes, by seed
    break_image: Callable[[str], None]  # its instances never become healthy


def raw_disk(path: Path, seed: int) -> Path:
    """A 64 MiB sparse raw disk: an MBR mark and a few hundred KiB of data that differ by seed."""
    rng = random.Random(seed)
    with path.open("wb") as fh:
        fh.truncate(64 * MIB)
        for offset in (0, 8 * MIB, 40 * MIB):
            fh.seek(offset)
            fh.write(rng.randbytes(300 * 1024).replace(b"\0", b"\1"))
        fh.seek(510)
        fh.write(b"\x55\xaa")
    return path


def _aws(request: pytest.FixtureRequest) -> Cloud:
    moto_ = request.getfixturevalue("aws_env")

    def break_image(image_id: str) -> None:
        ec2 = boto3.client("ec2", endpoint_url=moto_.endpoint)
        ec2.create_tags(Resources=[image_id], Tags=[{"Key": "lkcloud-test:unhealthy", "Value": "true"}])

    return Cloud("aws", [], [], raw_disk, break_image)


def _gcp(request: pytest.FixtureRequest) -> Cloud:
    request.getfixturevalue("gcp_env")
    fake = request.getfixturevalue("compute")
    flags = ["--project", "lk-contract"]
    return Cloud("gcp", flags, ["--bucket", request.getfixturevalue("bucket")], raw_disk,
                 lambda image_id: fake.unhealthy_images.add(_last(image_id)))


def _azure(request: pytest.FixtureRequest) -> Cloud:
    request.getfixturevalue("azure_env")
    fake = request.getfixturevalue("arm")

    def vhd(path: Path, seed: int) -> Path:
        return make_vhd(path.with_suffix(".vhd"), 16, ((0, MIB), (9 * MIB, 300 * 1024)), seed=seed)

    return Cloud("azure", [], ["--container", request.getfixturevalue("container")], vhd,
                 lambda image_id: fake.app.broken.add(image_id.lower()))


CLOUDS = {"aws": _aws, "gcp": _gcp, "azure": _azure}


@pytest.fixture(params=sorted(CLOUDS))
def cloud(request: pytest.FixtureRequest) -> Cloud:
    return CLOUDS[request.param](request)


@pytest.fixture(autouse=True)
def _options() -> Iterator[None]:
    yield
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def lkcloud(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    """Run ``lkcloud --json ARGV``; the JSON it printed."""
    capsys.readouterr()
    found = main(["--json", *argv])
    out, err = capsys.readouterr()
    assert found == code, err
    return json.loads(out) if out.strip() else None


def _last(ref: str) -> str:
    return ref.rstrip("/").rsplit("/", 1)[-1].lower()


def push(cloud: Cloud, capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, Any]:
    result: dict[str, Any] = lkcloud(capsys, "push", cloud.name, str(path), *cloud.flags, *cloud.push_flags,
                                     *extra)
    return result


pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def test_a_second_push_reuses_the_first(cloud: Cloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = cloud.image(tmp_path / "disk.img", 1)
    first = push(cloud, capsys, image)
    second = push(cloud, capsys, image)
    assert not first["reused"] and second["reused"] and second["id"] == first["id"]
    assert second["bytes_sent"] == 0 and first["provider"] == second["provider"] == cloud.name


def test_run_with_no_image_runs_the_last_push(cloud: Cloud, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    push(cloud, capsys, cloud.image(tmp_path / "old.img", 1))
    pushed = push(cloud, capsys, cloud.image(tmp_path / "new.img", 2))
    ran = lkcloud(capsys, "run", cloud.name, *cloud.flags, "--name", "contract")
    assert ran["provider"] == cloud.name and len(ran["instances"]) == 1
    assert _last(ran["instances"][0]["image"]) == _last(pushed["id"])


def test_prune_keeps_the_newest_and_what_a_fleet_uses(cloud: Cloud, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    ids = []
    for seed in (1, 2, 3):
        ids.append(push(cloud, capsys, cloud.image(tmp_path / f"disk{seed}.img", seed), "--family", "contract")["id"])
        time.sleep(1.1)  # creation times have one-second resolution on some clouds: keep the order plain
    lkcloud(capsys, "fleet", "create", cloud.name, "web", *cloud.flags, "--image", ids[0], "--size", "1")
    pruned = lkcloud(capsys, "images", "prune", cloud.name, *cloud.flags, "--family", "contract", "--keep", "1",
                     "--yes")
    assert [r["id"] for r in pruned["removed"]] == [ids[1]]
    assert [r["id"] for r in pruned["in_use"]] == [ids[0]]
    listed = lkcloud(capsys, "images", "list", cloud.name, *cloud.flags, "--family", "contract")
    assert sorted(r["id"] for r in listed) == sorted([ids[0], ids[2]])
    assert {r["id"]: r["in_use"] for r in listed}[ids[0]] is True


def test_a_refresh_to_a_broken_image_stops_with_the_old_image_serving(cloud: Cloud, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    good = push(cloud, capsys, cloud.image(tmp_path / "good.img", 1))["id"]
    broken = push(cloud, capsys, cloud.image(tmp_path / "broken.img", 2))["id"]
    cloud.break_image(broken)
    created = lkcloud(capsys, "fleet", "create", cloud.name, "web", *cloud.flags, "--image", good, "--size", "2")
    result = lkcloud(capsys, "fleet", "refresh", cloud.name, "web", *cloud.flags, "--image", broken, code=1)
    assert result["succeeded"] is False
    status = lkcloud(capsys, "fleet", "status", cloud.name, "web", *cloud.flags)
    assert _last(status["image"]) == _last(good) == _last(created["image"])
    assert len(status["instances"]) == 2 and {i["health"] for i in status["instances"]} == {"healthy"}
    assert set(status) == STATUS_KEYS and all(set(i) == INSTANCE_KEYS for i in status["instances"])
    lkcloud(capsys, "fleet", "delete", cloud.name, "web", *cloud.flags, "--yes")


@pytest.mark.boot
@pytest.mark.xdist_group("qemu-workers")
def test_qemu_keeps_the_same_contract(worker_images: Images, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The same scenarios on real local VMs: the FaaS worker answers /healthz; the broken image's
    kernel panics at once."""
    for key, value in {"LKCLOUD_QEMU_IMAGES": tmp_path / "images", "LKCLOUD_QEMU_STATE": tmp_path / "state",
                       "LKCLOUD_QEMU_ACCEL": "tcg", "XDG_CONFIG_HOME": tmp_path / "config"}.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.chdir(tmp_path)
    first = lkcloud(capsys, "push", "qemu", worker_images.v1, "--family", "worker")
    assert lkcloud(capsys, "push", "qemu", worker_images.v1, "--family", "worker")["reused"]
    ran = lkcloud(capsys, "run", "qemu", "--name", "contract", "--detach")
    assert [i["image"] for i in ran["instances"]] == [first["id"]]
    lkcloud(capsys, "run", "qemu", "contract", "--stop")
    ids = [first["id"]]
    for image in (worker_images.v2, worker_images.broken):
        time.sleep(1.1)  # stored images are ordered by their time, to the second
        ids.append(lkcloud(capsys, "push", "qemu", image, "--family", "worker")["id"])
    try:
        lkcloud(capsys, "fleet", "create", "qemu", "web", "--image", ids[0], "--size", "1")
        pruned = lkcloud(capsys, "images", "prune", "qemu", "--family", "worker", "--keep", "1", "--yes")
        assert [r["id"] for r in pruned["removed"]] == [ids[1]] and [r["id"] for r in pruned["in_use"]] == [ids[0]]
        result = lkcloud(capsys, "fleet", "refresh", "qemu", "web", "--image", ids[2], code=1)
        assert result["succeeded"] is False
        status = lkcloud(capsys, "fleet", "status", "qemu", "web")
        assert status["image"] == ids[0] and {i["health"] for i in status["instances"]} == {"healthy"}
        assert set(status) == STATUS_KEYS and all(set(i) == INSTANCE_KEYS for i in status["instances"])
    finally:
        main(["fleet", "delete", "qemu", "web", "--yes"])
