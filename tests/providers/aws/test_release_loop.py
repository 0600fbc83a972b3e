"""Issue 19, part 3 on AWS: ``lkcloud fleet refresh FLEET.yml`` after one function changed builds,
pushes only the change (on the last release's snapshot) and rolls the fleet onto it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud_aws.session import Aws, Tuning
from tests.providers.aws.conftest import REGION, Moto
from tests.providers.aws.test_incremental import assert_reads_as, changed_blocks
from tests.support.workers import Images

pytestmark = [pytest.mark.slow, pytest.mark.emulator, pytest.mark.xdist_group("qemu-workers")]

ROOT = Path(__file__).resolve().parents[3]
FLEET = """name: faas-demo
provider: aws
arch: amd64
image: [{template}, functions/worker.yml]
packages: [functions/hello]
size: 2
update: {{max_surge: 1, max_unavailable: 0, min_healthy_percent: 50, warmup_seconds: 0, pause_seconds: 0}}
"""


def lkcloud(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False
    capsys.readouterr()
    code = main(["--json", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def snapshot_of(aws: Aws, image_id: str) -> str:
    (image,) = aws.client("ec2").describe_images(ImageIds=[image_id])["Images"]
    return str(image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"])


def built_disk(work: Path) -> Path:
    """The ``aws`` disk the last build wrote under .lkcloud/build."""
    (disk,) = [p for p in (work / ".lkcloud" / "build").rglob("*") if p.is_file() and p.suffix == ".raw"]
    return disk


def test_fleet_refresh_pushes_only_the_changed_function(worker_images: Images, aws_env: Moto, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    aws = Aws(REGION, Tuning(poll=0.01))
    store = Path(worker_images.v1).parent.parent / "store"  # the worker packages (tests/support/workers.py)
    assert (store / "index.json").is_file()
    shutil.copytree(store, tmp_path / "cache")
    monkeypatch.setenv("LKCLOUD_CACHE", str(tmp_path / "cache"))
    shutil.copytree(ROOT / "examples" / "functions", tmp_path / "functions")
    (tmp_path / "fleet.yml").write_text(FLEET.format(template=ROOT / "templates" / "faas-worker.yml"))

    created = lkcloud(capsys, "fleet", "create", "fleet.yml")
    first = snapshot_of(aws, created["image"])
    first_puts = sum(aws_env.puts(first).values())
    assert first_puts > 50

    script = tmp_path / "functions" / "hello" / "rootfs" / "functions" / "hello"
    script.write_text(script.read_text().replace('echo "hello, ', 'echo "hello again, '))
    aws_env.reset_counts()
    refreshed = lkcloud(capsys, "fleet", "refresh", "fleet.yml")
    assert refreshed["succeeded"] and refreshed["new_image"] != created["image"]
    second = snapshot_of(aws, refreshed["new_image"])
    (described,) = aws.client("ec2").describe_snapshots(SnapshotIds=[second])["Snapshots"]
    assert {"Key": "lkcloud:parent", "Value": first} in described["Tags"], "the refresh pushed on the last release"
    sent = sum(aws_env.puts(second).values())
    assert 0 < sent <= first_puts * 5 // 100, f"{sent} of {first_puts} blocks sent again"
    assert changed_blocks(aws, first, second) == set(aws_env.puts(second))
    assert_reads_as(aws, second, built_disk(tmp_path))
    assert {i["image"] for i in refreshed["status"]["instances"]} == {refreshed["new_image"]}
