"""Upload a raw disk image as an EBS snapshot with the EBS direct APIs.

Only non-zero 512 KiB blocks are sent, in parallel (at most ``aws.concurrency`` in flight over
several client shards, fewer while EBS throttles), each with its SHA-256; CompleteSnapshot carries
the LINEAR aggregate. The upload fails only when nothing is confirmed for ``aws.inactivity-seconds``;
right after StartSnapshot, "does not exist" is waited out for ``aws.not-found-seconds`` (EBS direct
is eventually consistent: AWS's coldsnap waits about two minutes).

Resuming: AWS does not let the EBS direct APIs read a snapshot while it is pending, so a rerun
cannot ask the snapshot which blocks it holds. Instead the snapshot is found again (tag
``lkcloud:digest`` with state pending, or StartSnapshot's ClientToken, a hash of the whole request,
which returns the same snapshot), and a local journal of acknowledged block indices (one record
per block, written as each PutSnapshotBlock succeeds) says which blocks to skip. A completed
snapshot with the same digest is reused without sending anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from lkcloud.errors import ProviderError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.calls import Activity
from lkcloud.provider.concurrency import AdaptiveLimit
from lkcloud_aws import tags
from lkcloud_aws.blocks import BLOCK_SIZE, COMPLETED_MARK, Block, Journal, candidate_blocks, linear_checksum, scan
from lkcloud_aws.errors import AwsError
from lkcloud_aws.session import Aws, not_found

log = logging.getLogger(__name__)

GIB = 1 << 30
MAX_VOLUME_GIB = 65536  # StartSnapshot's limit: 64 TiB
REPLAY_AGE = 60.0  # s: a StartSnapshot answer about a snapshot older than this is a replayed one


@dataclass(frozen=True)
class SnapshotResult:
    snapshot_id: str
    volume_size: int  # GiB
    blocks: int  # non-zero blocks in the image
    sent: int  # blocks this run sent
    skipped: int  # blocks an earlier, interrupted run had stored
    bytes_sent: int
    reused: bool = False  # a completed snapshot of the same content existed
    resumed: bool = False
    lowest_in_flight: int = 0  # the fewest blocks in flight throttling brought the upload down to


@dataclass
class _Progress:
    digests: dict[int, bytes] = field(default_factory=dict)  # block index -> SHA-256, every non-zero block
    sent: int = 0
    skipped: int = 0
    lowest_in_flight: int = 0
    error: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


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


def _start(aws: Aws, digest: str, gib: int, *, name: str, timeout_minutes: int, extra: dict[str, str]) -> str:
    """A pending snapshot for ``digest``: StartSnapshot, whose token replays an earlier identical
    request. A replay naming a snapshot that is gone or finished, and a ConflictException, start
    afresh under another token."""
    request: dict[str, Any] = {"VolumeSize": gib, "Timeout": timeout_minutes,
                               "Description": f"lkcloud {name} {digest}"[:255],
                               "Tags": tags.tag_list(tags.standard(digest, name, extra))}
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


def _put(aws: Aws, client: Any, snapshot_id: str, block: Block, *, activity: Activity, limit: AdaptiveLimit,
         visible_by: float) -> None:
    def attempt() -> Any:
        with limit.slot():
            return client.put_snapshot_block(SnapshotId=snapshot_id, BlockIndex=block.index, BlockData=block.data,
                                             DataLength=BLOCK_SIZE, Checksum=block.checksum,
                                             ChecksumAlgorithm="SHA256")

    # Right after StartSnapshot the snapshot may not exist yet for the block store (eventual
    # consistency): "not found" is waited out until ``visible_by``, throttling lowers the limit.
    aws.call(f"writing block {block.index} of {snapshot_id}", attempt, activity=activity,
             also=not_found("ResourceNotFoundException", until=visible_by), on_throttle=limit.throttled)
    limit.succeeded()
    activity.advanced()


def _send(aws: Aws, snapshot_id: str, path: Path, *, stored: frozenset[int], journal: Journal,
          reporter: Reporter) -> _Progress:
    tuning = aws.tuning
    clients = aws.shards("ebs", tuning.shards, tuning.concurrency)
    state = _Progress()
    slots = threading.BoundedSemaphore(tuning.concurrency)  # blocks read and not yet confirmed
    limit = AdaptiveLimit(tuning.concurrency)  # requests in flight
    activity = Activity(max(tuning.inactivity, tuning.not_found))
    visible_by = time.monotonic() + tuning.not_found
    task = reporter.task(f"uploading {path.name} to {snapshot_id}", total=candidate_blocks(path) * BLOCK_SIZE)

    def put(block: Block) -> None:
        _put(aws, clients[block.index % len(clients)], snapshot_id, block, activity=activity, limit=limit,
             visible_by=visible_by)
        journal.add(block.index)
        with state.lock:
            state.digests[block.index] = block.digest
            state.sent += 1

    def finished(future: Future[None]) -> None:
        slots.release()
        if future.cancelled():
            return
        task.advance(BLOCK_SIZE)
        if future.exception() is not None and state.error is None:
            state.error = future.exception()

    journal.open()
    pool = ThreadPoolExecutor(max_workers=tuning.concurrency, thread_name_prefix="ebs-put")
    try:
        for block in scan(path):
            if block.index in stored:
                with state.lock:
                    state.digests[block.index] = block.digest
                    state.skipped += 1
                task.advance(BLOCK_SIZE)
                continue
            slots.acquire()
            if state.error is not None:
                break
            pool.submit(put, block).add_done_callback(finished)
    except BaseException as exc:  # ^C or a read error: stop sending, let in-flight blocks land
        state.error = state.error or exc
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=state.error is not None)
        journal.close()
        task.done()
    if state.error is not None:
        raise state.error
    state.lowest_in_flight = limit.lowest
    return state


def upload(aws: Aws, path: Path, digest: str, *, name: str, journal_dir: Path, timeout_minutes: int = 240,
           extra_tags: dict[str, str] | None = None, reporter: Reporter = NULL) -> SnapshotResult:
    """A completed EBS snapshot holding ``path``'s content (reused, resumed or uploaded)."""
    gib = volume_size(path.stat().st_size)
    existing = find_snapshot(aws, digest, gib)
    if existing is not None and existing["State"] == "completed":
        reporter.step(f"snapshot {existing['SnapshotId']} already holds {digest[:19]}")
        return SnapshotResult(existing["SnapshotId"], gib, 0, 0, 0, 0, reused=True)
    resumed = existing is not None
    if existing is not None:
        snapshot_id = str(existing["SnapshotId"])
    else:
        snapshot_id = _start(aws, digest, gib, name=name, timeout_minutes=timeout_minutes, extra=extra_tags or {})
    journal = Journal(journal_dir, snapshot_id)
    stored, completed = journal.load()
    reporter.step(f"{'resuming' if resumed or stored else 'writing'} snapshot {snapshot_id} ({gib} GiB)")
    state = _Progress(skipped=len(stored))
    if not completed:
        state = _send(aws, snapshot_id, path, stored=stored, journal=journal, reporter=reporter)
        _complete(aws, snapshot_id, [state.digests[index] for index in sorted(state.digests)])
        journal.open()
        journal.add(COMPLETED_MARK)
        journal.close()
    wait_completed(aws, snapshot_id)
    journal.remove()
    return SnapshotResult(snapshot_id, gib, len(state.digests), state.sent, state.skipped,
                          state.sent * BLOCK_SIZE, resumed=resumed or bool(stored),
                          lowest_in_flight=state.lowest_in_flight)


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
