"""``lkcloud push|run|fleet|images ... aws`` end to end against moto, and the CLI's error contract."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lkcloud.cli import context
from lkcloud.cli.main import main
from lkcloud.provider import records
from lkcloud_aws.blocks import scan
from tests.providers.aws.conftest import SMALL, Moto, random_image

pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True)
def _reset_options() -> None:
    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False


def lkcloud_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    code = main(["--json", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_push_run_fleet_images(aws_env: Moto, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    disk = random_image(tmp_path / "myos.raw", size=SMALL, blocks=3, mbr=True)
    pushed = lkcloud_json(capsys, "push", "aws", str(disk), "--name", "myos-1", "--tag", "env=test",
                          "--boot-mode", "uefi", "--copy-to", "eu-west-1", "--arch", "amd64")
    assert pushed["id"].startswith("ami-") and pushed["name"] == "myos-1" and pushed["family"] == "myos"
    assert {region for region, _ in pushed["locations"]} == {"us-east-1", "eu-west-1"}
    assert pushed["details"]["upload"]["sent"] == pushed["details"]["upload"]["blocks"] > 0
    assert pushed["scope"] == {"region": "us-east-1"}
    assert records.last("aws", cwd=tmp_path).id == pushed["id"]  # type: ignore[union-attr]

    ran = lkcloud_json(capsys, "run", "aws", "--data", '{"x":{"content":"y"}}', "--count", "2", "--arch", "amd64")
    assert len(ran["instances"]) == 2 and {i["image"] for i in ran["instances"]} == {pushed["id"]}

    created = lkcloud_json(capsys, "fleet", "create", "aws", "web", "--size", "2", "--arch", "amd64")
    assert created["image"] == pushed["id"] and created["size"] == 2
    status = lkcloud_json(capsys, "fleet", "status", "aws", "web")
    assert {i["version"] for i in status["instances"]} == {"1"}
    refreshed = lkcloud_json(capsys, "fleet", "refresh", "aws", "web", "--image", pushed["id"],
                             "--data", '{"x":{"content":"z"}}', "--min-healthy", "50", "--warmup", "0")
    assert refreshed["succeeded"] and {i["version"] for i in refreshed["status"]["instances"]} == {"2"}
    assert lkcloud_json(capsys, "fleet", "scale", "aws", "web", "--size", "1")["size"] == 1
    listed = lkcloud_json(capsys, "images", "list", "aws")
    assert [(r["id"], r["in_use"], r["family"]) for r in listed] == [(pushed["id"], True, "myos")]
    assert lkcloud_json(capsys, "images", "prune", "aws", "--keep", "1")["removed"] == []
    lkcloud_json(capsys, "fleet", "delete", "aws", "web")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--method", "import", "--bucket", "no-such-bucket"], 2, "S3 bucket 'no-such-bucket' does not exist"),
        (["--method", "import"], 2, "--method import needs an S3 bucket"),
        (["--name", "x"], 2, "invalid AMI name 'x'"),
        (["--tag", "novalue"], 2, "--tag 'novalue': expected KEY=VALUE"),
    ],
)
def test_bad_input_is_one_clear_line(aws_env: Moto, tmp_path: Path, capsys: pytest.CaptureFixture[str], *,
                                     argv: list[str], code: int, message: str) -> None:
    disk = random_image(tmp_path / "myos.raw", size=SMALL, blocks=1, mbr=True)
    assert main(["push", "aws", str(disk), *argv]) == code
    err = capsys.readouterr().err
    assert f"lkcloud: error: {message}" in err and "Traceback" not in err


def test_no_credentials(aws_env: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    disk = random_image(tmp_path / "myos.raw", size=SMALL, blocks=1, mbr=True)
    assert main(["push", "aws", str(disk)]) == 1
    err = capsys.readouterr().err
    assert "lkcloud: error: no AWS credentials found" in err and "lkcloud: hint:" in err


def test_run_without_a_push_says_what_to_do(aws_env: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "aws"]) == 2
    assert "none pushed to aws from this directory" in capsys.readouterr().err


def test_option_table_imports_no_sdk() -> None:
    code = ("import sys, lkcloud_aws.options, lkcloud.cli.main;"
            " print(any(m.split('.')[0] in ('boto3', 'botocore') for m in sys.modules))")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": f"{root}:{root / 'providers'}"}).stdout
    assert out.strip() == "False"


def test_canary_refresh_with_a_checkpoint_delay_finishes_on_its_own(aws_env: Moto, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The done-when of issue 15: `fleet refresh aws NAME --image ... --canary 50 --pause 5` waits
    out the 5 s checkpoint (and the warmups, scaled down by the server) and exits 0."""
    aws_env.behave(checkpoints=True, warmup_scale=0.01)
    old = random_image(tmp_path / "old" / "site.raw", size=SMALL, blocks=1, seed=51, mbr=True)
    new = random_image(tmp_path / "new" / "site.raw", size=SMALL, blocks=1, seed=52, mbr=True)
    first = lkcloud_json(capsys, "push", "aws", str(old), "--arch", "amd64")["id"]
    lkcloud_json(capsys, "fleet", "create", "aws", "site", "--image", first, "--size", "2", "--arch", "amd64")
    second = lkcloud_json(capsys, "push", "aws", str(new), "--arch", "amd64")["id"]
    capsys.readouterr()
    assert main(["fleet", "refresh", "aws", "site", "--image", second, "--canary", "50", "--pause", "5"]) == 0
    assert "refreshed" in capsys.readouterr().out
    status = lkcloud_json(capsys, "fleet", "status", "aws", "site")
    assert {i["image"] for i in status["instances"]} == {second}


def test_what_a_push_costs_in_api_calls(aws_env: Moto, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's table: a direct push is one PutSnapshotBlock per non-zero 512 KiB block and a
    handful of calls around them; pushing the same image again uploads nothing."""
    disk = random_image(tmp_path / "myos.raw", size=SMALL, blocks=3, mbr=True)
    blocks = sum(1 for _ in scan(disk))
    lkcloud_json(capsys, "push", "aws", str(disk), "--arch", "amd64")
    first = aws_env.actions()
    assert first.pop("PutSnapshotBlock") == blocks
    assert first == {"DescribeImages": 3, "DescribeSnapshots": 3, "StartSnapshot": 1, "CompleteSnapshot": 1,
                     "RegisterImage": 1}
    aws_env.reset_counts()
    lkcloud_json(capsys, "push", "aws", str(disk), "--arch", "amd64")
    assert aws_env.actions() == {"DescribeImages": 1}
    # A new release with one block changed: the same calls, and one block write.
    (tmp_path / "next").mkdir()
    changed = tmp_path / "next" / "myos.raw"
    shutil.copyfile(disk, changed)
    with changed.open("r+b") as fh:
        fh.seek(next(scan(disk)).index * 524288 + 4096)
        fh.write(b"changed")
    aws_env.reset_counts()
    assert lkcloud_json(capsys, "push", "aws", str(changed), "--arch", "amd64")["parent"].startswith("snap-")
    assert aws_env.actions() == {**first, "PutSnapshotBlock": 1}
