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

from lkcloud.artifact import file_digest, from_file
from lkcloud.errors import ProviderError, UsageError
from lkcloud_aws import ebs_upload
from lkcloud_aws.blocks import BLOCK_SIZE, Journal, scan
from lkcloud_aws.session import Aws, Tuning
from tests.providers.aws.conftest import REGION, SMALL, Moto, provider, random_image
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
    assert not list((tmp_path / "journal").glob("*.blocks")), "the journal is removed once complete"


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
    (journal_file,) = journal.glob("*.blocks")
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
    listed = ebs.list_snapshot_blocks(SnapshotId=result.snapshot_id)["Blocks"]
    tokens = {b["BlockIndex"]: b["BlockToken"] for b in listed}
    for block in scan(image):
        got = ebs.get_snapshot_block(SnapshotId=result.snapshot_id, BlockIndex=block.index,
                                     BlockToken=tokens[block.index])
        assert got["Checksum"] == base64.b64encode(block.digest).decode()


# -- AWS as it really behaves (tests/servers/moto_ext_behaviour.py switches each behaviour on) -------

def settings_aws(monkeypatch: pytest.MonkeyPatch, **env: str) -> Aws:
    """Clients built the way the CLI builds them, from LKCLOUD_AWS_* (``env``)."""
    for name, value in env.items():
        monkeypatch.setenv(f"LKCLOUD_AWS_{name.upper()}", value)
    return provider().aws


def test_blocks_wait_out_the_not_found_window_after_start(aws_env: Moto, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """ResourceNotFoundException right after StartSnapshot has its own, longer budget than a
    call's retries (coldsnap waits about two minutes)."""
    aws_env.behave(not_found_after_start=2.0)
    aws = settings_aws(monkeypatch, retry_seconds="0.5", concurrency="4")
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=4, seed=21)
    result = upload(aws, image, tmp_path / "journal")
    assert_same_content(aws, result.snapshot_id, image)


@pytest.mark.parametrize("code", ["RequestThrottledException", "ConcurrentLimitExceededException"])
def test_throttled_bursts_lower_the_blocks_in_flight(aws_env: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     code: str) -> None:
    aws_env.behave(max_puts_in_flight=2, put_seconds=0.05, throttle_code=code)
    aws = settings_aws(monkeypatch, concurrency="8", client_shards="2")
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=30, seed=22)
    result = upload(aws, image, tmp_path / "journal")
    assert_same_content(aws, result.snapshot_id, image)
    assert result.lowest_in_flight <= 4, "throttling lowered the requests in flight"


def test_a_new_push_under_other_tags_after_the_snapshot_was_deleted(aws_env: Moto, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """StartSnapshot's ClientToken covers every parameter: other tags mean another token, not
    a ConflictException."""
    aws = settings_aws(monkeypatch)
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=2, seed=23)
    first = upload(aws, image, tmp_path / "journal")
    aws.client("ec2").delete_snapshot(SnapshotId=first.snapshot_id)
    again = ebs_upload.upload(aws, image, digest_of(image), name="disk", journal_dir=tmp_path / "journal",
                              extra_tags={"team": "os"})
    assert again.snapshot_id != first.snapshot_id
    assert_same_content(aws, again.snapshot_id, image)


def test_a_replayed_start_of_a_deleted_snapshot_starts_afresh(aws_env: Moto, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The same request an hour later replays the first answer, naming a snapshot since deleted."""
    aws = settings_aws(monkeypatch, retry_seconds="1", not_found_seconds="1")
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=2, seed=24)
    first = upload(aws, image, tmp_path / "journal")
    aws.client("ec2").delete_snapshot(SnapshotId=first.snapshot_id)
    aws_env.behave(clock_offset=3600)
    again = upload(aws, image, tmp_path / "journal")
    assert again.snapshot_id != first.snapshot_id
    assert_same_content(aws, again.snapshot_id, image)


def test_a_lost_complete_answer_while_the_snapshot_is_still_pending(aws_env: Moto, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """After an accepted CompleteSnapshot the snapshot stays pending while EBS seals it; the retry
    of a CompleteSnapshot whose answer was lost is refused, and that is not a failure."""
    aws_env.behave(completing_seconds=1.5)
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=3, seed=25)
    faults = Faults(rate=1.0, kinds=("reset-after",), match=r"^POST /snapshots/completion/", limit=1)
    with FaultProxy(aws_env.endpoint, faults) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        result = upload(settings_aws(monkeypatch), image, tmp_path / "journal")
        assert proxy.stats["reset-after"] == 1
    assert_same_content(direct_client(aws_env, monkeypatch), result.snapshot_id, image)


def test_a_long_upload_fails_only_for_lack_of_progress(aws_env: Moto, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The upload's deadline is time without a confirmed block, not time since the start."""
    aws_env.behave(put_seconds=0.2)
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=40, seed=26)
    faults = Faults(rate=0.2, kinds=("503",), match=r"^PUT /snapshots/", seed=4)
    with FaultProxy(aws_env.endpoint, faults) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        aws = settings_aws(monkeypatch, inactivity_seconds="3", concurrency="2", client_shards="1")
        result = upload(aws, image, tmp_path / "journal")
        assert proxy.stats["503"] > 0
    assert result.sent == result.blocks


@pytest.mark.slow
def test_push_through_faults_and_a_30_second_not_found_window(aws_env: Moto, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The done-when of issue 15: 30 s of ResourceNotFoundException after StartSnapshot, 10%
    throttling and 5% connection resets on every request; the snapshot reads back equal."""
    aws_env.behave(not_found_after_start=30.0)
    image = random_image(tmp_path / "disk.raw", size=SMALL, blocks=12, seed=27, mbr=True)
    faults = Faults(rate=0.15, kinds=("throttle", "throttle", "reset"), seed=15)
    with FaultProxy(aws_env.endpoint, faults) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        result = provider().push(from_file(image))
        assert proxy.stats["throttle"] and proxy.stats["reset"]
    snapshot_id = result.details["snapshot_id"]
    assert_same_content(direct_client(aws_env, monkeypatch), snapshot_id, image)
