"""Writing a pending EBS snapshot's blocks: in parallel, journaled, and on a parent only what changed.

Every non-zero block of the image is hashed in a worker; it is sent unless an earlier attempt
stored it (the journal says so) or the parent holds the same bytes (same SHA-256 at that index).
On a parent, every block the parent holds and the image does not is overwritten with zeros, so
that the child reads exactly as the image. At most ``aws.concurrency`` blocks are in flight over
several client shards, fewer while EBS throttles; the upload fails only when nothing is confirmed
for ``aws.inactivity-seconds``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkcloud.progress import NULL, Reporter
from lkcloud.provider.calls import Activity
from lkcloud.provider.concurrency import AdaptiveLimit
from lkcloud_aws.blocks import BLOCK_SIZE, Block, Journal, candidate_blocks, scan
from lkcloud_aws.session import Aws, not_found

ZERO = bytes(BLOCK_SIZE)
ZERO_DIGEST = hashlib.sha256(ZERO).digest()


@dataclass
class Sent:
    content: dict[int, bytes] = field(default_factory=dict)  # SHA-256 of every non-zero block of the image
    written: dict[int, bytes] = field(default_factory=dict)  # SHA-256 of every block this snapshot was given
    sent: int = 0  # blocks this run wrote (zero blocks included)
    zeroed: int = 0  # of which zero blocks over the parent's data
    skipped: int = 0  # blocks an earlier, interrupted run had stored
    unchanged: int = 0  # blocks the parent already holds
    lowest_in_flight: int = 0
    error: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


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


class _Writer:
    """One snapshot's blocks through a bounded pool: ``offer`` each block, then ``close``."""

    def __init__(self, aws: Aws, snapshot_id: str, journal: Journal, *, stored: frozenset[int],
                 parent: Mapping[int, bytes], task: Any) -> None:
        tuning = aws.tuning
        self.aws, self.snapshot_id, self.journal, self.stored, self.parent = aws, snapshot_id, journal, stored, parent
        self.clients = aws.shards("ebs", tuning.shards, tuning.concurrency)
        self.state = Sent()
        self.slots = threading.BoundedSemaphore(tuning.concurrency)  # blocks read and not yet settled
        self.limit = AdaptiveLimit(tuning.concurrency)  # requests in flight
        self.activity = Activity(max(tuning.inactivity, tuning.not_found))
        self.visible_by = time.monotonic() + tuning.not_found
        self.task = task
        self.pool = ThreadPoolExecutor(max_workers=tuning.concurrency, thread_name_prefix="ebs-put")

    def _consider(self, block: Block, zero: bool) -> None:
        digest = ZERO_DIGEST if zero else block.digest
        state = self.state
        if not zero:
            with state.lock:
                state.content[block.index] = digest
        if block.index in self.stored:
            with state.lock:
                state.written[block.index] = digest
                state.skipped += 1
            return
        if not zero and self.parent.get(block.index) == digest:
            with state.lock:
                state.unchanged += 1
            return
        _put(self.aws, self.clients[block.index % len(self.clients)], self.snapshot_id, block,
             activity=self.activity, limit=self.limit, visible_by=self.visible_by)
        self.journal.add(block.index)
        with state.lock:
            state.written[block.index] = digest
            state.sent += 1
            state.zeroed += zero

    def _settled(self, future: Future[None], counted: bool) -> None:
        self.slots.release()
        if future.cancelled():
            return
        if counted:
            self.task.advance(BLOCK_SIZE)
        if future.exception() is not None and self.state.error is None:
            self.state.error = future.exception()

    def offer(self, block: Block, *, zero: bool = False) -> bool:
        """Queue ``block`` (waiting for room); False once a block has failed."""
        self.slots.acquire()
        if self.state.error is not None:
            self.slots.release()
            return False
        future = self.pool.submit(self._consider, block, zero)
        future.add_done_callback(lambda done: self._settled(done, not zero))
        return True

    def close(self, failed: bool) -> None:
        self.pool.shutdown(wait=True, cancel_futures=failed)


def send(aws: Aws, snapshot_id: str, path: Path, *, gib: int, stored: frozenset[int], journal: Journal,
         parent: Mapping[int, bytes] | None = None, reporter: Reporter = NULL) -> Sent:
    """Write ``path`` into the pending snapshot ``snapshot_id`` (on ``parent``'s blocks, when given)."""
    base = parent or {}
    what = "comparing and uploading" if base else "uploading"
    task = reporter.task(f"{what} {path.name} to {snapshot_id}", total=candidate_blocks(path) * BLOCK_SIZE)
    writer = _Writer(aws, snapshot_id, journal, stored=stored, parent=base, task=task)
    present: set[int] = set()
    journal.open()
    try:
        for block in scan(path):
            present.add(block.index)
            if not writer.offer(block):
                break
        else:
            limit = gib * (1 << 30) // BLOCK_SIZE
            for index in sorted((set(base) | stored) - present):
                if index < limit and not writer.offer(Block(index, ZERO), zero=True):
                    break
    except BaseException as exc:  # ^C or a read error: stop sending, let in-flight blocks land
        writer.state.error = writer.state.error or exc
        raise
    finally:
        writer.close(writer.state.error is not None)
        journal.close()
        task.done()
    state = writer.state
    if state.error is not None:
        raise state.error
    state.lowest_in_flight = writer.limit.lowest
    return state
