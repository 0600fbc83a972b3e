"""EBS direct uploads against moto: content read back, zero blocks never sent, faults, resume."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lkcloud.artifact import file_digest
from lkcloud.errors import ProviderError, UsageError
from lkcloud_aws import ebs_upload
from lkcloud_aws.blocks import BLOCK_SIZE, Journal, scan
from lkcloud_aws.session import Aws, Tuning
from tests.providers.aws.conftest import REGION, SMALL, Moto, random_image
from tests.servers.faultproxy import FaultProxy, Faults

pytestmark = pytest.mark.emulator


def assert_same_content(aws: Aws, snapshot_id: str, image: Path) -> None:
    """The snapshot holds ``image``: ListSnapshotBlocks names exactly its non-zero blocks (unwritten
    blocks read as zeros) and GetSnapshotBlock returns each one's bytes, 524288 at a time."""
    ebs = aws.client("ebs")
    expected = {block.index: block.data for block in scan(image)}
    listed = ebs.list_snapshot_blocks(SnapshotId=snapshot_id)["Blocks"]
    assert sorted(b["BlockIndex"] for b in listed) == sorted(expected)
    for block in listed:
        got = ebs.get_snapshot_block(SnapshotId=snapshot_id, BlockIndex=block["BlockIndex"],
                                     BlockToken=block["BlockToken"])
        assert got["DataLength"] == BLOCK_SIZE
        assert got["BlockData"].read() == expected[block["BlockIndex"]]


def upload(aws: Aws, image: Path, journal: Path) -> ebs_upload.SnapshotResult:
    return ebs_upload.upload(aws, image, digest_of(image), name="disk", journal_dir=journal)


_DIGESTS: dict[tuple[Path, float], str] = {}


def digest_of(image: Path) -> str:
    key = (image, image.stat().st_mtime)
    if key not in _DIGESTS:
        _DIGESTS[key] = file_digest(image)
    return _DIGESTS[key]


def test_upload_round_trip(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    image = random_image(tmp_path / "disk.raw", size=(1 << 30) + 12345)
    result = upload(aws, image, tmp_path / "journal")
    nonzero = {block.index for block in scan(image)}
    assert result.sent == result.blocks == len(nonzero) and result.volume_size == 2
    assert_same_content(aws, result.snapshot_id, image)
    puts = aws_env.puts(result.snapshot_id)
    assert set(puts) == nonzero, "exactly the non-zero blocks were sent"
    assert all(count == 1 for count in puts.values())
    (snapshot,) = aws.client("ec2").describe_snapshots(SnapshotIds=[result.snapshot_id])["Snapshots"]
    assert snapshot["State"] == "completed"
    assert {"Key": "lkcloud:digest", "Value": digest_of(image)} in snapshot["Tags"]
    assert not list((tmp_path / "journal").iterdir()), "the journal is removed once complete"


def test_same_content_reuses_the_snapshot(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=4)
    first = upload(aws, image, tmp_path / "journal")
    again = upload(aws, image, tmp_path / "journal")
    assert again.reused and again.snapshot_id == first.snapshot_id and again.sent == 0
    assert sum(aws_env.puts(first.snapshot_id).values()) == first.sent


def test_faults_on_the_wire_still_give_identical_content(aws_env: Moto, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=30, seed=11)
    faults = Faults(rate=0.25, seed=3, kinds=("reset", "reset-after", "500", "503", "throttle"))
    with FaultProxy(aws_env.endpoint, faults) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        aws = Aws(REGION, Tuning(concurrency=8, shards=3, retry=60, poll=0.01, read_timeout=10))
        result = upload(aws, image, tmp_path / "journal")
        injected = sum(proxy.stats[kind] for kind in faults.kinds)
    assert injected > 5
    assert_same_content(direct_client(aws_env, monkeypatch), result.snapshot_id, image)
    assert set(aws_env.puts(result.snapshot_id)) == {block.index for block in scan(image)}


def test_lost_complete_response_is_not_a_failure(aws_env: Moto, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=3)
    faults = Faults(rate=1.0, kinds=("reset-after",), match=r"^POST /snapshots/completion/")
    with FaultProxy(aws_env.endpoint, faults) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        result = upload(Aws(REGION, Tuning(concurrency=4, shards=1, retry=1, poll=0.01)), image, tmp_path / "j")
        assert proxy.stats["reset-after"] >= 1, "every answer to CompleteSnapshot was lost"
    assert_same_content(direct_client(aws_env, monkeypatch), result.snapshot_id, image)


def direct_client(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """Clients that talk to moto itself (not through the proxy)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    return Aws(REGION, Tuning(poll=0.01))


def test_hard_failure_then_rerun_sends_only_what_is_missing(aws_env: Moto, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=40, seed=5)
    journal = tmp_path / "journal"
    with FaultProxy(aws_env.endpoint, Faults(match=r"^PUT /snapshots/", fail_after=20)) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        aws = Aws(REGION, Tuning(concurrency=4, shards=2, poll=0.01))
        with pytest.raises(ProviderError, match="AccessDenied"):
            upload(aws, image, journal)
    (snapshot,) = aws.client("ec2").describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": "tag:lkcloud:digest", "Values": [digest_of(image)]}])["Snapshots"]
    assert snapshot["State"] == "pending"
    stored_before = set(aws_env.puts(snapshot["SnapshotId"]))
    assert len(stored_before) == 20
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env.endpoint)
    aws_env._post("/_lkcloud/reset-counts")
    result = upload(Aws(REGION, Tuning(concurrency=4, shards=2, poll=0.01)), image, journal)
    assert result.snapshot_id == snapshot["SnapshotId"] and result.resumed
    resent = set(aws_env.puts(result.snapshot_id))
    assert not resent & stored_before, "blocks stored before were sent again"
    assert resent | stored_before == {block.index for block in scan(image)}
    assert result.skipped == 20 and result.sent == result.blocks - 20
    assert_same_content(aws, result.snapshot_id, image)


PUSHER = """
import sys
from pathlib import Path
from lkcloud.artifact import file_digest
from lkcloud_aws import ebs_upload
from lkcloud_aws.session import Aws, Tuning
image, journal = Path(sys.argv[1]), Path(sys.argv[2])
aws = Aws("us-east-1", Tuning(concurrency=2, shards=1, poll=0.01))
ebs_upload.upload(aws, image, file_digest(image), name="disk", journal_dir=journal)
"""


@pytest.mark.slow
def test_killed_push_resumes_without_resending_acknowledged_blocks(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=60, seed=9)
    journal = tmp_path / "journal"
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{root}:{root / 'providers'}"}
    proc = subprocess.Popen([sys.executable, "-c", PUSHER, str(image), str(journal)], env=env, start_new_session=True)
    try:
        while proc.poll() is None and sum(aws_env.counts()["puts"].values()) < 15:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    (journal_file,) = journal.iterdir()
    snapshot_id = journal_file.stem
    acknowledged = set(Journal(journal, snapshot_id).load()[0])
    assert acknowledged
    aws_env._post("/_lkcloud/reset-counts")
    result = upload(aws, image, journal)
    assert result.snapshot_id == snapshot_id and result.resumed
    assert not set(aws_env.puts(snapshot_id)) & acknowledged
    assert_same_content(aws, snapshot_id, image)


def test_image_limits() -> None:
    assert ebs_upload.volume_size(1) == 1
    assert ebs_upload.volume_size(64 << 40) == 65536
    with pytest.raises(UsageError, match="64 TiB"):
        ebs_upload.volume_size((64 << 40) + 1)
    with pytest.raises(UsageError, match="empty"):
        ebs_upload.volume_size(0)


def test_checksums_are_the_blocks_sha256(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=3)
    result = upload(aws, image, tmp_path / "journal")
    ebs = aws.client("ebs")
    for block in scan(image):
        got = ebs.get_snapshot_block(SnapshotId=result.snapshot_id, BlockIndex=block.index, BlockToken="x")
        assert got["Checksum"] == base64.b64encode(block.digest).decode()
