"""Incremental pushes against moto: a new release is a child snapshot of the last one, written with
only the blocks that changed, and reads back through the parent chain equal to the new image."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lkcloud.artifact import file_digest, from_file
from lkcloud.errors import ProviderError, UsageError
from lkcloud_aws import ebs_upload, lineage
from lkcloud_aws.blocks import BLOCK_SIZE, Journal, scan
from lkcloud_aws.session import Aws, Tuning
from tests.providers.aws.conftest import REGION, Moto, provider

pytestmark = pytest.mark.emulator

SIZE = 96 * (1 << 20) + 4321  # 193 blocks, a 1 GiB volume
ZERO = bytes(BLOCK_SIZE)
FIRST = dict.fromkeys(range(0, 120, 2), 1)  # block index -> content seed: 60 blocks of data


def data(index: int, seed: int) -> bytes:
    return hashlib.sha256(f"{index}/{seed}".encode()).digest() * (BLOCK_SIZE // 32)


def release(path: Path, seeds: dict[int, int], size: int = SIZE) -> Path:
    """An image whose block ``i`` holds the data of ``seeds[i]`` (all others zero), MBR-signed."""
    with path.open("wb") as fh:
        fh.truncate(size)
        for index, seed in seeds.items():
            fh.seek(index * BLOCK_SIZE)
            fh.write(data(index, seed)[:max(0, min(BLOCK_SIZE, size - index * BLOCK_SIZE))])
        fh.seek(510)
        fh.write(b"\x55\xaa")
    return path


def second(changed: range = range(10, 14, 2)) -> dict[int, int]:
    """The first release with ``changed`` blocks rewritten, block 20 zeroed and block 150 new."""
    seeds = {**FIRST, **dict.fromkeys(changed, 2), 150: 2}
    del seeds[20]
    return seeds


def assert_reads_as(aws: Aws, snapshot_id: str, image: Path) -> None:
    """Block for block, the snapshot (through its parents) reads as ``image``: every block EBS
    lists holds the image's bytes (zeros where the image has none), every non-zero block is listed."""
    ebs = aws.client("ebs")
    expected = {block.index: block.data for block in scan(image)}
    listed = {b["BlockIndex"]: b["BlockToken"] for b in aws.pages("listing", ebs.list_snapshot_blocks, "Blocks",
                                                                  SnapshotId=snapshot_id, MaxResults=100)}
    assert set(expected) <= set(listed)
    for index, token in listed.items():
        got = ebs.get_snapshot_block(SnapshotId=snapshot_id, BlockIndex=index, BlockToken=token)["BlockData"].read()
        assert got == expected.get(index, ZERO), f"block {index}"


def changed_blocks(aws: Aws, first: str, second_id: str) -> set[int]:
    pages = aws.pages("changes", aws.client("ebs").list_changed_blocks, "ChangedBlocks", FirstSnapshotId=first,
                      SecondSnapshotId=second_id, MaxResults=100)
    return {int(item["BlockIndex"]) for item in pages}


def upload(aws: Aws, image: Path, journal: Path, **how: Any) -> ebs_upload.SnapshotResult:
    return ebs_upload.upload(aws, image, file_digest(image), name="fam", journal_dir=journal,
                             how=ebs_upload.Lineage(**how))


def test_a_release_sends_only_its_changed_blocks(aws_env: Moto, tmp_path: Path) -> None:
    """The done-when of issue 19 (AWS): full push, then an incremental one; both read back equal."""
    (tmp_path / "v1").mkdir()
    old = release(tmp_path / "v1" / "fam.raw", FIRST)
    first = provider().push(from_file(old))
    first_snapshot = first.details["snapshot_id"]
    assert first.parent is None and first.bytes_sent == 60 * BLOCK_SIZE
    aws = Aws(REGION, Tuning(poll=0.01))
    assert_reads_as(aws, first_snapshot, old)

    (tmp_path / "v2").mkdir()
    new = release(tmp_path / "v2" / "fam.raw", second())
    aws_env.reset_counts()
    pushed = provider().push(from_file(new))
    snapshot_id = pushed.details["snapshot_id"]
    upload = pushed.details["upload"]
    assert pushed.parent == first_snapshot and upload["parent_blocks"] == "local manifest"
    assert (upload["sent"], upload["zeroed"], upload["unchanged"]) == (4, 1, 57)
    assert pushed.bytes_sent == 4 * BLOCK_SIZE and pushed.bytes_skipped == new.stat().st_size - 4 * BLOCK_SIZE
    assert set(aws_env.puts(snapshot_id)) == {10, 12, 20, 150}, "only the changed, new and zeroed blocks were sent"
    assert changed_blocks(aws, first_snapshot, snapshot_id) == {10, 12, 20, 150}
    assert_reads_as(aws, snapshot_id, new)
    assert_reads_as(aws, first_snapshot, old)
    (described,) = aws.client("ec2").describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert {"Key": "lkcloud:parent", "Value": first_snapshot} in described["Tags"]


def test_a_third_release_builds_on_the_second(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    one = upload(aws, release(tmp_path / "1.raw", FIRST), journal)
    two = upload(aws, release(tmp_path / "2.raw", second()), journal)
    third = release(tmp_path / "3.raw", {**second(), 20: 3, 30: 3})
    three = upload(aws, third, journal)
    assert (two.parent, three.parent) == (one.snapshot_id, two.snapshot_id)
    assert three.sent == 2 and three.zeroed == 0
    assert_reads_as(aws, three.snapshot_id, third)


def test_parent_none_and_an_unknown_block_list(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    """--parent none sends every block; with no manifest the parent's checksums are read back from
    EBS (and remembered), unless that is switched off: then the push is a full one."""
    journal = tmp_path / "journal"
    one = upload(aws, release(tmp_path / "1.raw", FIRST), journal)
    full = upload(aws, release(tmp_path / "2.raw", second()), journal, parent="none")
    assert full.parent is None and full.sent == full.blocks == 60
    lineage.manifests(journal).remove(full.snapshot_id)
    lineage.manifests(journal).remove(one.snapshot_id)

    aws_env.reset_counts()
    third = release(tmp_path / "3.raw", {**second(), 30: 3})
    read = upload(aws, third, journal, read=False)
    assert read.parent is None and read.sent == read.blocks
    assert "GetSnapshotBlock" not in aws_env.actions()

    lineage.manifests(journal).remove(read.snapshot_id)
    for older in (one, full):  # unrelated snapshots started within one second are in no order
        aws.client("ec2").delete_snapshot(SnapshotId=older.snapshot_id)
    fourth = release(tmp_path / "4.raw", {**second(), 30: 4})
    aws_env.reset_counts()
    built = upload(aws, fourth, journal)
    assert built.parent == read.snapshot_id and built.parent_blocks == "read back from EBS"
    assert aws_env.actions()["GetSnapshotBlock"] == 60 and built.sent == 1
    assert lineage.manifests(journal).load(read.snapshot_id) is not None, "what was read back is remembered"
    assert_reads_as(aws, built.snapshot_id, fourth)


def test_a_manifest_is_believed_only_for_the_snapshot_it_describes(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    one = upload(aws, release(tmp_path / "1.raw", FIRST), journal)
    store = lineage.manifests(journal)
    lying = store.load(one.snapshot_id)
    assert lying is not None
    # A manifest that claims other content for the snapshot (blocks and digest of another image).
    lineage.remember(store, one.snapshot_id, digest="sha256:" + "0" * 64, family="fam", size=SIZE,
                     blocks={index: hashlib.sha256(data(index, 2)).digest() for index in lying.blocks})
    new = release(tmp_path / "2.raw", second())
    two = upload(aws, new, journal)
    assert two.parent == one.snapshot_id and two.parent_blocks == "read back from EBS"
    assert_reads_as(aws, two.snapshot_id, new)


def test_a_parent_larger_than_the_image(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    big = upload(aws, release(tmp_path / "1.raw", FIRST, size=(1 << 30) + 1), journal)
    small = release(tmp_path / "2.raw", second())
    with pytest.raises(UsageError, match="cannot be smaller than its parent"):
        upload(aws, small, journal, parent=big.snapshot_id)
    result = upload(aws, small, journal)
    assert result.parent is None and result.volume_size == 1 and big.volume_size == 2
    assert_reads_as(aws, result.snapshot_id, small)


def test_parent_must_be_ours_and_completed(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such snapshot of this account"):
        upload(aws, release(tmp_path / "1.raw", FIRST), tmp_path / "journal", parent="snap-0123456789abcdef0")
    pending = aws.client("ebs").start_snapshot(VolumeSize=1)["SnapshotId"]
    with pytest.raises(UsageError, match="not completed"):
        upload(aws, release(tmp_path / "1.raw", FIRST), tmp_path / "journal", parent=pending)


PUSHER = """
import sys
from pathlib import Path
from lkcloud.artifact import file_digest
from lkcloud_aws import ebs_upload
from lkcloud_aws.session import Aws, Tuning
image, journal = Path(sys.argv[1]), Path(sys.argv[2])
aws = Aws("us-east-1", Tuning(concurrency=2, shards=1, poll=0.01))
ebs_upload.upload(aws, image, file_digest(image), name="fam", journal_dir=journal)
"""


def push_killed_half_way(image: Path, journal: Path, moto: Moto, after: int) -> None:
    """Start pushing ``image`` in another process and SIGKILL it once ``after`` blocks were written."""
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{root}:{root / 'providers'}"}
    moto.reset_counts()
    proc = subprocess.Popen([sys.executable, "-c", PUSHER, str(image), str(journal)], env=env,
                            start_new_session=True)
    try:
        while proc.poll() is None and sum(moto.counts()["puts"].values()) < after:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_a_killed_incremental_push_resumes_on_its_parent(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    one = upload(aws, release(tmp_path / "1.raw", FIRST), journal)
    new = release(tmp_path / "2.raw", second(changed=range(0, 80, 2)))  # 39 changed, block 20 zeroed, 150 new
    aws_env.behave(put_seconds=0.05)
    push_killed_half_way(new, journal, aws_env, after=12)
    (journal_file,) = journal.glob("*.blocks")
    snapshot_id = journal_file.stem
    acknowledged = set(Journal(journal, snapshot_id).load()[0])
    assert 0 < len(acknowledged) < 41
    aws_env.behave(put_seconds=0.0)
    aws_env.reset_counts()
    result = upload(aws, new, journal)
    assert result.snapshot_id == snapshot_id and result.resumed and result.parent == one.snapshot_id
    resent = set(aws_env.puts(snapshot_id))
    assert not resent & acknowledged, "blocks stored before the kill were sent again"
    planned = {*range(0, 80, 2), 150}
    assert resent | acknowledged == planned
    assert changed_blocks(aws, one.snapshot_id, snapshot_id) == planned
    assert_reads_as(aws, snapshot_id, new)


def test_a_pending_child_whose_parent_is_gone_is_started_afresh(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    """The parent's blocks cannot be known once it is deleted: the half-written child is left to
    expire and the release is pushed anew, on no parent."""
    journal = tmp_path / "journal"
    one = upload(aws, release(tmp_path / "1.raw", FIRST), journal)
    new = release(tmp_path / "2.raw", second())
    digest = file_digest(new)
    pending = ebs_upload._start(aws, digest, 1, name="fam", parent=one.snapshot_id, timeout_minutes=60, extra={})
    aws.client("ec2").delete_snapshot(SnapshotId=one.snapshot_id)
    result = upload(aws, new, journal)
    assert result.snapshot_id != pending and result.parent is None
    assert_reads_as(aws, result.snapshot_id, new)


def test_the_cli_says_what_it_built_on(aws_env: Moto, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lkcloud.cli import context
    from lkcloud.cli.main import main

    context.OPTIONS.debug = context.OPTIONS.json = context.OPTIONS.quiet = False
    one, two = release(tmp_path / "1.raw", FIRST), release(tmp_path / "2.raw", second())
    assert main(["push", "aws", str(one), "--family", "fam", "--arch", "amd64"]) == 0
    capsys.readouterr()
    assert main(["push", "aws", str(two), "--family", "fam", "--arch", "amd64"]) == 0
    out, err = capsys.readouterr()
    assert "sent 2.0 MiB" in out and "(on top of snap-" in out
    assert "4 of 60 blocks written (1 zeroed), 57 unchanged from snap-" in err
    assert main(["push", "aws", str(two), "--parent", "latest", "--arch", "amd64"]) == 2
    assert "--parent 'latest': expected a snapshot id (snap-...) or none" in capsys.readouterr().err


def test_a_refused_read_back_is_a_full_push(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    """Credentials without ebs:ListSnapshotBlocks: the parent's blocks cannot be read, the push is
    a full one (and says so), not a failure."""
    journal = tmp_path / "journal"
    one = upload(aws, release(tmp_path / "1.raw", FIRST), journal)
    lineage.manifests(journal).remove(one.snapshot_id)
    aws_env.behave(fail={"ListSnapshotBlocks": {"code": "AccessDeniedException", "count": 1}})
    new = release(tmp_path / "2.raw", second())
    result = upload(aws, new, journal)
    assert result.parent is None and result.sent == result.blocks
    assert_reads_as(aws, result.snapshot_id, new)


def test_an_endless_block_listing_is_an_error_not_a_loop(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    """A parent read back from an endpoint whose ListSnapshotBlocks never ends (or names blocks
    twice, or past the volume) fails with one line, in bounded time and memory."""
    journal = tmp_path / "journal"
    one = upload(aws, release(tmp_path / "1.raw", FIRST), journal)
    lineage.manifests(journal).remove(one.snapshot_id)
    aws_env.behave(endless_block_listing=True)
    with pytest.raises(ProviderError, match="outside its 1 GiB or twice"):
        upload(aws, release(tmp_path / "2.raw", second()), journal)


def test_deleting_an_older_release_keeps_the_newer_whole(aws_env: Moto, tmp_path: Path) -> None:
    """images prune removes a parent: its manifest goes with it, and the child built on it still
    reads as its own image (EBS keeps the blocks a remaining snapshot uses)."""
    pushed = []
    for number, seeds in ((1, FIRST), (2, second())):
        (tmp_path / f"v{number}").mkdir()
        pushed.append(provider().push(from_file(release(tmp_path / f"v{number}" / "fam.raw", seeds))))
    aws = provider()
    (oldest,) = [record for record in aws.images_list() if record.id == pushed[0].id]
    old_snapshot, new_snapshot = (result.details["snapshot_id"] for result in pushed)
    store = lineage.manifests(tmp_path / "journal")
    assert store.load(old_snapshot) is not None
    aws.image_delete(oldest)
    assert store.load(old_snapshot) is None
    assert_reads_as(aws.aws, new_snapshot, tmp_path / "v2" / "fam.raw")
