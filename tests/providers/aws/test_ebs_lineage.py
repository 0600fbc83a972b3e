"""The test server's EBS lineage, checked against what AWS documents (tests/servers/moto_ext_ebs_lineage.py):
a child reads as its parent plus its own blocks, the listings page as EBS pages, StartSnapshot
refuses the parents EBS refuses."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lkcloud_aws.blocks import BLOCK_SIZE
from lkcloud_aws.session import Aws
from tests.providers.aws.conftest import REGION, Moto

pytestmark = pytest.mark.emulator


def data(seed: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (BLOCK_SIZE // 32)


def snapshot(ebs: Any, blocks: dict[int, bytes], *, gib: int = 1, parent: str | None = None,
             complete: bool = True) -> str:
    extra = {"ParentSnapshotId": parent} if parent else {}
    snapshot_id = str(ebs.start_snapshot(VolumeSize=gib, **extra)["SnapshotId"])
    digests = []
    for index in sorted(blocks):
        digest = hashlib.sha256(blocks[index]).digest()
        ebs.put_snapshot_block(SnapshotId=snapshot_id, BlockIndex=index, BlockData=blocks[index],
                               DataLength=BLOCK_SIZE, Checksum=base64.b64encode(digest).decode(),
                               ChecksumAlgorithm="SHA256")
        digests.append(digest)
    if complete:
        ebs.complete_snapshot(SnapshotId=snapshot_id, ChangedBlocksCount=len(blocks),
                              Checksum=base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode(),
                              ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR")
    return snapshot_id


def contents(ebs: Any, snapshot_id: str) -> dict[int, bytes]:
    """Every block of the snapshot as it reads, through ListSnapshotBlocks pages and GetSnapshotBlock."""
    found, kwargs = {}, {"SnapshotId": snapshot_id, "MaxResults": 100}
    while True:
        page = ebs.list_snapshot_blocks(**kwargs)
        for block in page["Blocks"]:
            got = ebs.get_snapshot_block(SnapshotId=snapshot_id, BlockIndex=block["BlockIndex"],
                                         BlockToken=block["BlockToken"])
            found[block["BlockIndex"]] = got["BlockData"].read()
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def changed(ebs: Any, first: str, second: str, max_results: int = 100) -> tuple[dict[int, dict[str, Any]], int]:
    """ListChangedBlocks over every page: the changed blocks, and how many pages it took."""
    found, pages, kwargs = {}, 0, {"FirstSnapshotId": first, "SecondSnapshotId": second, "MaxResults": max_results}
    while True:
        page = ebs.list_changed_blocks(**kwargs)
        pages += 1
        found.update({item["BlockIndex"]: item for item in page["ChangedBlocks"]})
        if not page.get("NextToken"):
            return found, pages
        kwargs["NextToken"] = page["NextToken"]


def refused(call: Any, code: str, reason: str | None = None, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["Error"]["Code"] == code
    if reason:
        assert caught.value.response.get("Reason") == reason


def test_a_child_reads_as_its_parent_plus_its_own_blocks(aws: Aws) -> None:
    ebs = aws.client("ebs")
    parent = snapshot(ebs, {0: data(0), 1: data(1), 5: data(5)})
    child = snapshot(ebs, {1: data(11), 5: bytes(BLOCK_SIZE), 9: data(9)}, gib=2, parent=parent)
    assert contents(ebs, child) == {0: data(0), 1: data(11), 5: bytes(BLOCK_SIZE), 9: data(9)}
    assert contents(ebs, parent) == {0: data(0), 1: data(1), 5: data(5)}
    found, _ = changed(ebs, parent, child)
    assert sorted(found) == [1, 5, 9]
    assert "FirstBlockToken" not in found[9] and found[9]["SecondBlockToken"]
    assert found[1]["FirstBlockToken"] != found[1]["SecondBlockToken"]
    grandchild = snapshot(ebs, {0: data(0)}, gib=2, parent=child)
    assert sorted(changed(ebs, parent, grandchild)[0]) == [0, 1, 5, 9], "a block written again counts as changed"
    (described,) = aws.client("ec2").describe_snapshots(SnapshotIds=[child])["Snapshots"]
    assert described["State"] == "completed" and described["VolumeSize"] == 2


def test_changed_blocks_page_over_written_blocks_and_may_come_back_empty(aws: Aws) -> None:
    """readsnapshots.html: a full snapshot of blocks 0-999 and a child that changes 999 only: with
    MaxResults 100 the change comes in the tenth page, after nine empty ones."""
    ebs = aws.client("ebs")
    parent = snapshot(ebs, dict.fromkeys(range(1000), data(1)))
    child = snapshot(ebs, {999: data(2)}, parent=parent)
    found, pages = changed(ebs, parent, child)
    assert sorted(found) == [999] and pages == 10
    listed = ebs.list_snapshot_blocks(SnapshotId=child, StartingBlockIndex=990, MaxResults=100)["Blocks"]
    assert [b["BlockIndex"] for b in listed] == list(range(990, 1000))
    refused(ebs.list_snapshot_blocks, "ValidationException", SnapshotId=child, MaxResults=10000, NextToken="bm90")


def test_start_snapshot_refuses_parents_ebs_refuses(aws: Aws) -> None:
    ebs = aws.client("ebs")
    big = snapshot(ebs, {0: data(0)}, gib=2)
    refused(ebs.start_snapshot, "ValidationException", "INVALID_VOLUME_SIZE", VolumeSize=1, ParentSnapshotId=big)
    pending = snapshot(ebs, {0: data(0)}, complete=False)
    refused(ebs.start_snapshot, "ValidationException", VolumeSize=1, ParentSnapshotId=pending)
    refused(ebs.start_snapshot, "ResourceNotFoundException", "SNAPSHOT_NOT_FOUND", VolumeSize=2,
            ParentSnapshotId="snap-0123456789abcdef0")
    refused(ebs.start_snapshot, "ValidationException", VolumeSize=2, ParentSnapshotId=big, Encrypted=True)


def test_another_accounts_snapshot_is_not_a_parent(aws: Aws, aws_env: Moto) -> None:
    role = "arn:aws:iam::111111111111:role/other"
    sts = boto3.client("sts", region_name=REGION)
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="other")["Credentials"]
    other = boto3.client("ebs", region_name=REGION, aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"])
    theirs = snapshot(other, {0: data(0)})
    refused(aws.client("ebs").start_snapshot, "AccessDeniedException", "UNAUTHORIZED_ACCOUNT", VolumeSize=1,
            ParentSnapshotId=theirs)


def test_a_deleted_parent_leaves_its_child_whole(aws: Aws) -> None:
    ebs = aws.client("ebs")
    parent = snapshot(ebs, {0: data(0), 3: data(3)})
    child = snapshot(ebs, {3: data(33)}, parent=parent)
    aws.client("ec2").delete_snapshot(SnapshotId=parent)
    assert contents(ebs, child) == {0: data(0), 3: data(33)}
    refused(ebs.start_snapshot, "ResourceNotFoundException", VolumeSize=1, ParentSnapshotId=parent)


def test_reads_need_tokens_a_lineage_and_a_completed_snapshot(aws: Aws) -> None:
    ebs = aws.client("ebs")
    one = snapshot(ebs, {0: data(0)})
    two = snapshot(ebs, {0: data(0)})
    refused(ebs.list_changed_blocks, "ValidationException", "UNRELATED_SNAPSHOTS", FirstSnapshotId=one,
            SecondSnapshotId=two)
    refused(ebs.get_snapshot_block, "ValidationException", "INVALID_BLOCK_TOKEN", SnapshotId=one, BlockIndex=0,
            BlockToken="AAAA")
    pending = snapshot(ebs, {0: data(0)}, complete=False)
    refused(ebs.list_snapshot_blocks, "ValidationException", SnapshotId=pending)
