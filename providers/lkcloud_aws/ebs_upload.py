"""Upload a raw disk image as an EBS snapshot with the EBS direct APIs.

Only non-zero 512 KiB blocks are sent (:mod:`lkcloud_aws.ebs_send`), each with its SHA-256;
CompleteSnapshot carries the LINEAR aggregate of the blocks written. Right after StartSnapshot,
"does not exist" is waited out for ``aws.not-found-seconds`` (EBS direct is eventually
consistent: AWS's coldsnap waits about two minutes).

Incremental: the new snapshot is started on a parent (:mod:`lkcloud_aws.lineage` chooses it: the
newest of the family whose blocks are known, or ``--parent``) and only the blocks that differ
from the parent's are written. When a snapshot completes, a manifest of its blocks is kept
locally for the next push to build on; the parent is named in the snapshot's
``lkcloud:parent`` tag.

Resuming: AWS does not let the EBS direct APIs read a snapshot while it is pending, so a rerun
cannot ask the snapshot which blocks it holds. Instead the snapshot is found again (tag
``lkcloud:digest`` with state pending, or StartSnapshot's ClientToken, a hash of the whole request,
which returns the same snapshot), it is finished on the parent it was started on (its tag), and a
local journal of acknowledged block indices (one record per block, written as each
PutSnapshotBlock succeeds) says which blocks to skip. A completed snapshot with the same digest is
reused without sending anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from lkcloud.errors import ProviderError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.manifests import ManifestStore
from lkcloud_aws import lineage, tags
from lkcloud_aws.blocks import BLOCK_SIZE, COMPLETED_MARK, Journal, linear_checksum
from lkcloud_aws.ebs_send import Sent, send
from lkcloud_aws.errors import AwsError
from lkcloud_aws.lineage import Base
from lkcloud_aws.session import Aws

log = logging.getLogger(__name__)

GIB = 1 << 30
MAX_VOLUME_GIB = 65536  # StartSnapshot's limit: 64 TiB
REPLAY_AGE = 60.0  # s: a StartSnapshot answer about a snapshot older than this is a replayed one


@dataclass(frozen=True)
class SnapshotResult:
    snapshot_id: str
    volume_size: int  # GiB
    blocks: int  # non-zero blocks in the image
    sent: int  # blocks this run wrote (zero blocks over the parent's data included)
    skipped: int  # blocks an earlier, interrupted run had stored
    bytes_sent: int
    reused: bool = False  # a completed snapshot of the same content existed
    resumed: bool = False
    lowest_in_flight: int = 0  # the fewest blocks in flight throttling brought the upload down to
    parent: str | None = None  # the snapshot this one was started on (an incremental push)
    parent_blocks: str = ""  # where the parent's block list came from: local manifest, read back from EBS
    unchanged: int = 0  # blocks not sent because the parent holds the same bytes
    zeroed: int = 0  # zero blocks written over the parent's data


@dataclass(frozen=True)
class Lineage:
    """How a push chooses its parent: ``parent`` is --parent (a snapshot id, "none", or None to
    take the newest of the family whose blocks are known); ``read`` allows reading a parent's
    block checksums back from EBS when no local manifest knows them."""

    parent: str | None = None
    read: bool = True


def volume_size(size: int) -> int:
    """The snapshot's volume size in GiB; UsageError outside 1 byte .. 64 TiB."""
    if size <= 0:
        raise UsageError("the image file is empty")
    gib = -(-size // GIB)
    if gib > MAX_VOLUME_GIB:
        raise UsageError(
            f"the image is {gib} GiB; an EBS snapshot holds at most {MAX_VOLUME_GIB} GiB (64 TiB)",
            hint="build a smaller disk image",
        )
    return gib


def find_snapshot(aws: Aws, digest: str, gib: int) -> dict[str, Any] | None:
    """A completed (preferred) or pending snapshot lkcloud made from the same content."""
    found = aws.call("looking for a snapshot of the same content", aws.client("ec2").describe_snapshots,
                     OwnerIds=["self"], Filters=[{"Name": f"tag:{tags.DIGEST}", "Values": [digest]}])["Snapshots"]
    usable = [snap for snap in found if snap.get("VolumeSize") == gib and snap.get("State") in ("completed", "pending")]
    usable.sort(key=lambda snap: (snap["State"] != "completed", str(snap.get("StartTime", ""))))
    return usable[0] if usable else None


def _token(request: dict[str, Any], salt: str) -> str:
    """StartSnapshot's ClientToken: a hash of every parameter, so that the same request is
    idempotent and any other request is a new snapshot rather than a ConflictException."""
    text = json.dumps({**request, "salt": salt}, sort_keys=True, default=str)
    return "lkcloud-" + hashlib.sha256(text.encode()).hexdigest()[:48]


def _age(started: dict[str, Any]) -> float:
    """Seconds between the snapshot's StartTime and the answer's Date (both the server's clock)."""
    try:
        date = parsedate_to_datetime(started["ResponseMetadata"]["HTTPHeaders"]["date"])
        start = started["StartTime"]
        return (date - start).total_seconds() if isinstance(start, datetime) else 0.0
    except (KeyError, TypeError, ValueError):
        return 0.0


def _still_pending(aws: Aws, snapshot_id: str) -> bool:
    try:
        found = aws.call(f"describing snapshot {snapshot_id}", aws.client("ec2").describe_snapshots,
                         SnapshotIds=[snapshot_id])["Snapshots"]
    except AwsError as exc:
        if exc.code == "InvalidSnapshot.NotFound":
            return False
        raise
    return bool(found) and found[0].get("State") == "pending"


def _start(aws: Aws, digest: str, gib: int, *, name: str, parent: str | None, timeout_minutes: int,
           extra: dict[str, str]) -> str:
    """A pending snapshot for ``digest`` (on ``parent``): StartSnapshot, whose token replays an
    earlier identical request. A replay naming a snapshot that is gone or finished, and a
    ConflictException, start afresh under another token."""
    labels = {**tags.standard(digest, name, extra), tags.PARENT: parent or lineage.NONE}
    request: dict[str, Any] = {"VolumeSize": gib, "Timeout": timeout_minutes,
                               "Description": f"lkcloud {name} {digest}"[:255], "Tags": tags.tag_list(labels)}
    if parent:
        request["ParentSnapshotId"] = parent
    salt = ""
    for _ in range(3):
        try:
            started = aws.call("starting a snapshot", aws.client("ebs").start_snapshot,
                               ClientToken=_token(request, salt), **request)
        except AwsError as exc:
            if exc.code != "ConflictException":
                raise
            salt = f"conflict-{time.time_ns()}"
            continue
        snapshot_id = str(started["SnapshotId"])
        if started.get("BlockSize") not in (None, BLOCK_SIZE):
            log.debug("server reports BlockSize %s; EBS direct uses %d", started.get("BlockSize"), BLOCK_SIZE)
        replayed = _age(started) > REPLAY_AGE
        if started.get("Status", "pending") == "pending" and (not replayed or _still_pending(aws, snapshot_id)):
            return snapshot_id
        log.debug("StartSnapshot replayed %s, which is no longer pending: starting afresh", snapshot_id)
        salt = snapshot_id
    raise ProviderError(f"StartSnapshot keeps returning snapshots that are not pending (last: {salt})")


def _reused(store: ManifestStore, snapshot: dict[str, Any], path: Path, *, digest: str, name: str,
            gib: int, reporter: Reporter) -> SnapshotResult:
    """A completed snapshot of the same content; its manifest written if none is known (so that
    the next push can build on it)."""
    snapshot_id = str(snapshot["SnapshotId"])
    reporter.step(f"snapshot {snapshot_id} already holds {digest[:19]}")
    if store.load(snapshot_id) is None:
        lineage.remember(store, snapshot_id, digest=digest, family=name, size=path.stat().st_size,
                         blocks=lineage.image_blocks(path))
    return SnapshotResult(snapshot_id, gib, 0, 0, 0, 0, reused=True)


def _target(aws: Aws, store: ManifestStore, pending: dict[str, Any] | None, *, digest: str, gib: int, name: str,
            how: Lineage, timeout_minutes: int, extra: dict[str, str],
            reporter: Reporter) -> tuple[str, Base | None, bool]:
    """(the pending snapshot to write, its parent, whether it was found again): the one an earlier
    run left when it can still be finished, else a new one on the parent :func:`lineage.choose` picks."""
    if pending is not None:
        finishable, base = lineage.resume(aws, store, pending, read=how.read, reporter=reporter)
        if finishable:
            return str(pending["SnapshotId"]), base, True
        reporter.step(f"the parent of pending snapshot {pending['SnapshotId']} is gone or unknown: starting afresh")
    base = lineage.choose(aws, store, family=name, gib=gib, wanted=how.parent, read=how.read, reporter=reporter)
    snapshot_id = _start(aws, digest, gib, name=name, parent=base.snapshot_id if base else None,
                         timeout_minutes=timeout_minutes, extra=extra)
    return snapshot_id, base, False


def upload(aws: Aws, path: Path, digest: str, *, name: str, journal_dir: Path, timeout_minutes: int = 240,
           extra_tags: dict[str, str] | None = None, how: Lineage | None = None,
           reporter: Reporter = NULL) -> SnapshotResult:
    """A completed EBS snapshot holding ``path``'s content (reused, resumed or uploaded; on a
    parent of the family ``name`` when one is known, see :class:`Lineage`)."""
    gib = volume_size(path.stat().st_size)
    store = lineage.manifests(journal_dir)
    existing = find_snapshot(aws, digest, gib)
    if existing is not None and existing["State"] == "completed":
        return _reused(store, existing, path, digest=digest, name=name, gib=gib, reporter=reporter)
    snapshot_id, base, resumed = _target(aws, store, existing, digest=digest, gib=gib, name=name,
                                         how=how or Lineage(), timeout_minutes=timeout_minutes,
                                         extra=extra_tags or {}, reporter=reporter)
    journal = Journal(journal_dir, snapshot_id)
    stored, completed = journal.load()
    on = f" on {base.snapshot_id} (block list: {base.source})" if base else ""
    reporter.step(f"{'resuming' if resumed or stored else 'writing'} snapshot {snapshot_id} ({gib} GiB){on}")
    if completed:  # CompleteSnapshot was accepted before: nothing left to write
        state = Sent(content=lineage.image_blocks(path), skipped=len(stored))
    else:
        state = send(aws, snapshot_id, path, gib=gib, stored=stored, journal=journal,
                     parent=base.blocks if base else None, reporter=reporter)
        _complete(aws, snapshot_id, [state.written[index] for index in sorted(state.written)])
        journal.open()
        journal.add(COMPLETED_MARK)
        journal.close()
    wait_completed(aws, snapshot_id)
    lineage.remember(store, snapshot_id, digest=digest, family=name, size=path.stat().st_size, blocks=state.content)
    journal.remove()
    if base is not None:
        reporter.step(f"{state.sent} of {len(state.content)} blocks written ({state.zeroed} zeroed),"
                      f" {state.unchanged} unchanged from {base.snapshot_id}")
    return SnapshotResult(snapshot_id, gib, len(state.content), state.sent, state.skipped, state.sent * BLOCK_SIZE,
                          resumed=resumed or bool(stored), lowest_in_flight=state.lowest_in_flight,
                          parent=base.snapshot_id if base else None, parent_blocks=base.source if base else "",
                          unchanged=state.unchanged, zeroed=state.zeroed)


def _complete(aws: Aws, snapshot_id: str, digests: list[bytes]) -> None:
    try:
        aws.call(f"completing snapshot {snapshot_id}", aws.client("ebs").complete_snapshot, SnapshotId=snapshot_id,
                 ChangedBlocksCount=len(digests), Checksum=linear_checksum(digests), ChecksumAlgorithm="SHA256",
                 ChecksumAggregationMethod="LINEAR")
    except AwsError:
        # A retry after a lost answer is refused: the first CompleteSnapshot was accepted, and the
        # snapshot is pending (EBS is sealing it) or completed. The completion wait decides.
        if _snapshot_state(aws, None, snapshot_id).get("State") not in ("pending", "completed"):
            raise


def _snapshot_state(aws: Aws, region: str | None, snapshot_id: str) -> dict[str, Any]:
    found = aws.call(f"describing snapshot {snapshot_id}", aws.client("ec2", region).describe_snapshots,
                     fresh=("InvalidSnapshot.NotFound",), SnapshotIds=[snapshot_id])["Snapshots"]
    return dict(found[0]) if found else {"SnapshotId": snapshot_id, "State": "not visible yet"}


def _done(snapshot: dict[str, Any]) -> bool:
    if snapshot.get("State") == "error":
        raise ProviderError(f"snapshot {snapshot['SnapshotId']} failed: {snapshot.get('StateMessage', 'error')}")
    return snapshot.get("State") == "completed"


def wait_completed(aws: Aws, snapshot_id: str, region: str | None = None) -> None:
    aws.wait(f"snapshot {snapshot_id}", lambda: _snapshot_state(aws, region, snapshot_id), _done,
             progress=lambda snapshot: snapshot.get("Progress"))


def delete_snapshot(aws: Aws, snapshot_id: str, region: str | None = None) -> None:
    aws.call(f"deleting snapshot {snapshot_id}", aws.client("ec2", region).delete_snapshot, SnapshotId=snapshot_id)
