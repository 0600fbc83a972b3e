"""Which snapshot a push builds on, and what that snapshot holds block by block.

An incremental push starts its snapshot with ``ParentSnapshotId`` and writes only the blocks
whose SHA-256 differs from the parent's (and zero blocks where the parent had data and the image
has none). What the parent holds comes from a local manifest (:mod:`lkcloud.provider.manifests`,
kept beside the upload journal and written when a snapshot completes), believed only when it
names the digest the parent is tagged with; failing that, from EBS itself (ListSnapshotBlocks,
then GetSnapshotBlock for each block: a download of the parent's data), unless that is switched
off (``aws.read-parent``), when the push is a full one. Each choice is said on the reporter.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lkcloud.errors import ProviderError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.manifests import BlockManifest, ManifestStore
from lkcloud_aws import tags
from lkcloud_aws.blocks import BLOCK_SIZE, scan
from lkcloud_aws.choices import SNAPSHOT_ID
from lkcloud_aws.errors import AwsError
from lkcloud_aws.session import Aws

GIB = 1 << 30
NONE = "none"  # --parent none, and the parent tag of a snapshot that has none
_ZERO = bytes(BLOCK_SIZE)


@dataclass(frozen=True)
class Base:
    """The parent of an incremental snapshot and the SHA-256 of each of its non-zero blocks."""

    snapshot_id: str
    blocks: Mapping[int, bytes]
    source: str  # "local manifest" or "read back from EBS"


def manifests(journal_dir: Path) -> ManifestStore:
    """Block manifests of pushed snapshots: beside the upload journal, one file per snapshot id."""
    return ManifestStore(journal_dir / "manifests")


def image_blocks(path: Path) -> dict[int, bytes]:
    """The SHA-256 of each non-zero block of a local image."""
    return {block.index: block.digest for block in scan(path)}


def remember(store: ManifestStore, snapshot_id: str, *, digest: str, family: str, size: int,
             blocks: Mapping[int, bytes]) -> None:
    store.save(BlockManifest(snapshot_id, digest, family, size, BLOCK_SIZE, dict(blocks)))


def _describe(aws: Aws, snapshot_id: str) -> dict[str, Any] | None:
    """One of this account's snapshots (None when there is no such snapshot of ours)."""
    try:
        found = aws.call(f"describing snapshot {snapshot_id}", aws.client("ec2").describe_snapshots,
                         OwnerIds=["self"], SnapshotIds=[snapshot_id])["Snapshots"]
    except AwsError as exc:
        if exc.code in ("InvalidSnapshot.NotFound", "InvalidSnapshotID.Malformed", "InvalidParameterValue"):
            return None
        raise
    return dict(found[0]) if found else None


def _family(aws: Aws, family: str) -> list[dict[str, Any]]:
    """lkcloud's completed snapshots of ``family`` in this region, newest first."""
    found = aws.pages(f"looking for earlier snapshots of {family}", aws.client("ec2").describe_snapshots,
                      "Snapshots", OwnerIds=["self"],
                      Filters=[{"Name": f"tag:{tags.FAMILY}", "Values": [family]},
                               {"Name": f"tag:{tags.MANAGED}", "Values": [tags.TRUE]},
                               {"Name": "status", "Values": ["completed"]}])
    snapshots = {str(snap["SnapshotId"]): dict(snap) for snap in found if snap.get("State") == "completed"}

    def generation(snapshot_id: str) -> int:
        """How many of the family's snapshots are its ancestors: orders releases started within one
        tick of StartTime's clock (a child is newer than its parent)."""
        count, seen = 0, {snapshot_id}
        parent = tags.tag_dict(snapshots[snapshot_id].get("Tags")).get(tags.PARENT)
        while parent in snapshots and parent not in seen:
            count, seen = count + 1, seen | {parent}
            parent = tags.tag_dict(snapshots[parent].get("Tags")).get(tags.PARENT)
        return count

    order = {key: (str(snap.get("StartTime", "")), generation(key), key) for key, snap in snapshots.items()}
    return [snapshots[key] for key in sorted(snapshots, key=order.__getitem__, reverse=True)]


def _from_manifest(store: ManifestStore, snapshot: Mapping[str, Any]) -> Base | None:
    """The snapshot's blocks from its local manifest, when the manifest is whole and describes
    this very snapshot (the digest it is tagged with, its volume size)."""
    snapshot_id = str(snapshot["SnapshotId"])
    manifest = store.load(snapshot_id)
    if manifest is None:
        return None
    digest = tags.tag_dict(snapshot.get("Tags")).get(tags.DIGEST)
    if manifest.digest != digest or manifest.block_size != BLOCK_SIZE or \
            -(-manifest.size // GIB) != int(snapshot.get("VolumeSize", 0)):
        store.remove(snapshot_id)
        return None
    return Base(snapshot_id, manifest.blocks, "local manifest")


def _block_digest(aws: Aws, client: Any, snapshot_id: str, block: Mapping[str, Any]) -> tuple[int, bytes | None]:
    index = int(block["BlockIndex"])

    def fetch() -> tuple[bytes, str]:
        answer = client.get_snapshot_block(SnapshotId=snapshot_id, BlockIndex=index, BlockToken=block["BlockToken"])
        return bytes(answer["BlockData"].read()), str(answer.get("Checksum") or "")

    data, checksum = aws.call(f"reading block {index} of {snapshot_id}", fetch)
    digest = hashlib.sha256(data).digest()
    matches = not checksum or checksum == base64.b64encode(digest).decode()
    if len(data) != BLOCK_SIZE or not matches:
        raise AwsError(f"block {index} of {snapshot_id} came back damaged ({len(data)} of {BLOCK_SIZE} bytes,"
                       f" checksum {'as sent' if matches else 'not the data'})")
    return index, None if data == _ZERO else digest


def _listing(aws: Aws, snapshot_id: str, gib: int) -> list[dict[str, Any]]:
    """ListSnapshotBlocks' pages, believed only while they name distinct blocks inside the volume
    (an answer that goes on for ever, or past the volume, is an error, not an endless loop)."""
    limit = gib * GIB // BLOCK_SIZE
    listed: dict[int, dict[str, Any]] = {}
    for block in aws.pages(f"listing the blocks of {snapshot_id}", aws.client("ebs").list_snapshot_blocks,
                           "Blocks", SnapshotId=snapshot_id, MaxResults=10000):
        index = block.get("BlockIndex")
        if not isinstance(index, int) or not 0 <= index < limit or index in listed or len(listed) >= limit:
            raise ProviderError(f"ListSnapshotBlocks of {snapshot_id} named block {index!r}, outside its"
                                f" {gib} GiB or twice")
        listed[index] = dict(block)
    return list(listed.values())


def read_back(aws: Aws, snapshot_id: str, gib: int, reporter: Reporter = NULL) -> dict[int, bytes]:
    """The SHA-256 of each non-zero block of a completed snapshot of ``gib`` GiB, read from EBS
    (every block is downloaded: EBS gives checksums only with the data)."""
    listed = _listing(aws, snapshot_id, gib)
    tuning = aws.tuning
    clients = aws.shards("ebs", tuning.shards, tuning.concurrency)
    task = reporter.task(f"reading {snapshot_id}'s block checksums", total=len(listed) * BLOCK_SIZE)
    found: dict[int, bytes] = {}
    pool = ThreadPoolExecutor(max_workers=tuning.concurrency, thread_name_prefix="ebs-get")
    try:
        jobs = [pool.submit(_block_digest, aws, clients[n % len(clients)], snapshot_id, block)
                for n, block in enumerate(listed)]
        for job in jobs:
            index, digest = job.result()
            task.advance(BLOCK_SIZE)
            if digest is not None:
                found[index] = digest
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a failure or ^C: no more reads
        task.done()
    return found


def _read(aws: Aws, store: ManifestStore, snapshot: Mapping[str, Any], reporter: Reporter) -> Base | None:
    """The snapshot's blocks read back from EBS (and remembered); None, said, when EBS refuses
    (the credentials may lack ebs:ListSnapshotBlocks or ebs:GetSnapshotBlock)."""
    snapshot_id = str(snapshot["SnapshotId"])
    reporter.step(f"no local block list of {snapshot_id}: reading its block checksums back from EBS")
    try:
        blocks = read_back(aws, snapshot_id, int(snapshot.get("VolumeSize", 0)), reporter)
    except AwsError as exc:
        reporter.step(f"reading {snapshot_id} back failed ({exc.message}): pushing every block")
        return None
    labels = tags.tag_dict(snapshot.get("Tags"))
    if labels.get(tags.DIGEST):
        remember(store, snapshot_id, digest=labels[tags.DIGEST], family=labels.get(tags.FAMILY, ""),
                 size=int(snapshot.get("VolumeSize", 0)) * GIB, blocks=blocks)
    return Base(snapshot_id, blocks, "read back from EBS")


def _named(aws: Aws, store: ManifestStore, wanted: str, *, gib: int, read: bool, reporter: Reporter) -> Base | None:
    """``--parent SNAPSHOT``: it must be one of ours, completed, and no larger than the image."""
    snapshot = _describe(aws, wanted)
    if snapshot is None:
        raise UsageError(f"--parent {wanted}: no such snapshot of this account in {aws.region}",
                         hint="name one of your completed snapshots, or --parent none")
    if snapshot.get("State") != "completed":
        raise UsageError(f"--parent {wanted}: the snapshot is {snapshot.get('State')}, not completed")
    if int(snapshot.get("VolumeSize", 0)) > gib:
        raise UsageError(f"--parent {wanted}: its volume is {snapshot['VolumeSize']} GiB and the image's {gib} GiB;"
                         " a snapshot cannot be smaller than its parent", hint="choose another parent, or none")
    base = _from_manifest(store, snapshot)
    if base is None and read:
        base = _read(aws, store, snapshot, reporter)
    if base is None:
        reporter.step(f"no local block list of {wanted} and aws.read-parent is off: pushing every block")
    return base


def choose(aws: Aws, store: ManifestStore, *, family: str, gib: int, wanted: str | None = None, read: bool = True,
           reporter: Reporter = NULL) -> Base | None:
    """The parent of a new snapshot of ``family`` holding ``gib`` GiB, or None for a full push:
    ``wanted`` (``--parent``) when given, else the newest of lkcloud's completed snapshots of the
    family whose blocks a local manifest knows, else the newest one read back from EBS (``read``)."""
    if wanted == NONE:
        reporter.step("--parent none: pushing every block")
        return None
    if wanted:
        return _named(aws, store, wanted, gib=gib, read=read, reporter=reporter)
    candidates = [snap for snap in _family(aws, family) if int(snap.get("VolumeSize", 0)) <= gib]
    for snapshot in candidates:
        base = _from_manifest(store, snapshot)
        if base is not None:
            return base
    if not candidates:
        reporter.step(f"no earlier snapshot of {family} in {aws.region}: pushing every block")
        return None
    if not read:
        reporter.step(f"no local block list of {family}'s snapshots and aws.read-parent is off: pushing every block")
        return None
    return _read(aws, store, candidates[0], reporter)


def resume(aws: Aws, store: ManifestStore, pending: Mapping[str, Any], *, read: bool = True,
           reporter: Reporter = NULL) -> tuple[bool, Base | None]:
    """Whether a pending snapshot can be finished, and on which parent: the one it was started on
    (its ``lkcloud:parent`` tag). (False, None) when that parent's blocks can no longer be known:
    the snapshot is then left to expire and a new one is started."""
    parent = tags.tag_dict(pending.get("Tags")).get(tags.PARENT, NONE)
    if parent == NONE:
        return True, None
    if not SNAPSHOT_ID.fullmatch(parent):
        return False, None
    snapshot = _describe(aws, parent)
    if snapshot is None or snapshot.get("State") != "completed":
        return False, None
    base = _from_manifest(store, snapshot)
    if base is None and read:
        base = _read(aws, store, snapshot, reporter)
    return base is not None, base
