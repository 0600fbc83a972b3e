"""EBS snapshot lineage as AWS models it and moto does not: ParentSnapshotId, and reading a
snapshot through its parents (ListSnapshotBlocks, ListChangedBlocks, GetSnapshotBlock).

- StartSnapshot with ``ParentSnapshotId`` starts an incremental snapshot: it reads as its parent
  plus the blocks written to it; a block it does not write is the parent's
  (https://docs.aws.amazon.com/ebs/latest/userguide/writesnapshots.html: "specify a parent
  snapshot ID to start a snapshot as an incremental snapshot of an existing one"). The parent
  must exist in this account (ResourceNotFoundException; another account's is
  AccessDeniedException: the EBS direct APIs work on the caller's own snapshots, public ones are
  not supported, https://docs.aws.amazon.com/ebs/latest/userguide/ebs-accessing-snapshot.html),
  be completed (a pending snapshot is still being written: ValidationException), and the new
  volume may not be smaller than the parent's (ValidationException, reason INVALID_VOLUME_SIZE;
  EC2 refuses a volume smaller than its snapshot the same way, CreateVolume). ParentSnapshotId
  with Encrypted is a ValidationException (API_StartSnapshot.html).
- Deleting a parent keeps its children whole: deleting a snapshot removes only the data no other
  snapshot references (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-deleting-snapshot.html):
  here a child holds its parent's blocks by reference, not by id.
- ListSnapshotBlocks lists every block of the snapshot as it reads (its own and its parents'),
  ListChangedBlocks the blocks that differ between two snapshots of one lineage
  (UNRELATED_SNAPSHOTS otherwise) — a block written again counts as changed, EBS tracks writes,
  not content — with FirstBlockToken absent where the first snapshot has no such block. Pages
  hold at most MaxResults (100..10000) blocks; a ListChangedBlocks page covers MaxResults blocks
  written in either snapshot and may come back empty with a NextToken
  (https://docs.aws.amazon.com/ebs/latest/userguide/readsnapshots.html). GetSnapshotBlock needs
  the block token a listing gave (INVALID_BLOCK_TOKEN otherwise).
- Reads need a completed snapshot: lkcloud never reads one that is pending (its resume relies on a
  local journal instead) and the fake refuses, so that no code comes to depend on it.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from typing import Any

import moto_ext_behaviour as behaviour
from moto.core.responses import ActionResult
from moto.ebs.models import Block, EBSBackend, EBSSnapshot
from moto.ebs.responses import EBSResponse
from moto.ec2.models import ec2_backends
from moto_ext_errors import fault

DEFAULT_PAGE = 10000
TOKEN_LIFE = datetime.timedelta(days=7)


def _error(code: str, message: str, reason: str) -> Any:
    error = fault("ebs", code, message)
    error.reason = reason  # the "Reason" member of EBS's error shapes
    return error


def settled(ec2_snapshot: Any) -> str:
    """The EC2 state, moved on to completed once the sealing delay (``completing_seconds``) passed."""
    done_at = getattr(ec2_snapshot, "lk_completed_at", None)
    if done_at is not None and behaviour.now() >= done_at:
        ec2_snapshot.status = "completed"
        ec2_snapshot.lk_completed_at = None
    return str(ec2_snapshot.status)


def _owner_elsewhere(snapshot_id: str, region: str, account: str) -> bool:
    for account_id, regions in list(ec2_backends.items()):
        if account_id != account and region in regions and snapshot_id in regions[region].snapshots:
            return True
    return False


def check_parent(backend: EBSBackend, parent_id: str | None, volume_size: int, encrypted: Any) -> Any:
    """The parent's EBS snapshot (None when it was not written with the EBS direct APIs); raises
    as StartSnapshot does for a parent it cannot build on."""
    if not parent_id:
        return None
    if encrypted is not None:
        raise _error("ValidationException", "You can't specify ParentSnapshotId and Encrypted in the same request.",
                     "INVALID_PARAMETER_VALUE")
    ec2_snapshot = backend.ec2_backend.snapshots.get(parent_id)
    if ec2_snapshot is None:
        if _owner_elsewhere(parent_id, backend.region_name, backend.account_id):
            raise _error("AccessDeniedException", f"You are not authorized to use snapshot {parent_id}.",
                         "UNAUTHORIZED_ACCOUNT")
        raise _error("ResourceNotFoundException", f"The parent snapshot '{parent_id}' does not exist.",
                     "SNAPSHOT_NOT_FOUND")
    if settled(ec2_snapshot) != "completed":
        raise _error("ValidationException", f"The parent snapshot {parent_id} is not completed.",
                     "INVALID_PARAMETER_VALUE")
    if int(volume_size) < int(ec2_snapshot.volume.size):
        raise _error("ValidationException", f"The volume size {volume_size} GiB is smaller than the parent snapshot's"
                     f" {ec2_snapshot.volume.size} GiB.", "INVALID_VOLUME_SIZE")
    return backend.snapshots.get(parent_id) or _Outside(parent_id)


class _Outside:
    """A parent that EC2 made (from a volume, an import): it holds no blocks the fake knows."""

    def __init__(self, snapshot_id: str) -> None:
        self.snapshot_id = snapshot_id
        self.blocks: dict[int, Block] = {}


def adopt(snapshot: EBSSnapshot, parent: Any) -> None:
    snapshot.lk_parent = parent  # type: ignore[attr-defined]


def _layers(snapshot: Any) -> list[Any]:
    layers = []
    while snapshot is not None:
        layers.append(snapshot)
        snapshot = getattr(snapshot, "lk_parent", None)
    return layers


def view(snapshot: Any) -> dict[int, Block]:
    """The blocks ``snapshot`` reads as: its parents', each overridden by what its child wrote."""
    blocks: dict[int, Block] = {}
    for layer in reversed(_layers(snapshot)):
        blocks.update(layer.blocks)
    return blocks


def _root(snapshot: Any) -> str:
    return str(_layers(snapshot)[-1].snapshot_id)


def token(block: Block) -> str:
    return base64.b64encode(uuid.UUID(block.block_token).bytes).decode()


def _readable(self: EBSResponse, snapshot_id: str) -> EBSSnapshot:
    backend = self.ebs_backend
    snapshot = backend.snapshots.get(snapshot_id)
    ec2_snapshot = backend.ec2_backend.snapshots.get(snapshot_id)
    if snapshot is None or ec2_snapshot is None:
        raise _error("ResourceNotFoundException", f"The snapshot '{snapshot_id}' does not exist.", "SNAPSHOT_NOT_FOUND")
    if snapshot.status != "completed" or settled(ec2_snapshot) != "completed":
        raise _error("ValidationException", f"The snapshot {snapshot_id} is not completed.", "INVALID_SNAPSHOT_ID")
    return snapshot


def _int(self: EBSResponse, name: str, default: int) -> int:
    value = self._get_param(name)
    try:
        return default if value in (None, "") else int(value)
    except (TypeError, ValueError):
        raise _error("ValidationException", f"{name} must be a number", "INVALID_PARAMETER_VALUE") from None


def _page(self: EBSResponse) -> tuple[int, int]:
    """(first block index, MaxResults): NextToken wins over StartingBlockIndex."""
    size = _int(self, "MaxResults", DEFAULT_PAGE)
    if not 100 <= size <= 10000:
        raise _error("ValidationException", "MaxResults must be between 100 and 10000", "INVALID_PARAMETER_VALUE")
    next_token = self._get_param("NextToken")
    if next_token:
        try:
            return int(base64.b64decode(next_token, validate=True).decode()), size
        except ValueError:
            raise _error("ValidationException", "The pagination token is not valid.", "INVALID_PAGE_TOKEN") from None
    return max(0, _int(self, "StartingBlockIndex", 0)), size


def _next(indices: list[int], taken: int) -> str | None:
    return base64.b64encode(str(indices[taken]).encode()).decode() if taken < len(indices) else None


def _answer(snapshot: EBSSnapshot, key: str, items: list[dict[str, Any]], next_token: str | None) -> ActionResult:
    result: dict[str, Any] = {key: items, "VolumeSize": snapshot.volume_size, "BlockSize": snapshot.block_size,
                              "ExpiryTime": datetime.datetime.now(datetime.UTC) + TOKEN_LIFE}
    if next_token:
        result["NextToken"] = next_token
    return ActionResult(result)


def list_snapshot_blocks(self: EBSResponse) -> ActionResult:
    armed = behaviour.take_fault("ListSnapshotBlocks")
    if armed:
        raise fault("ebs", str(armed.get("code", "AccessDeniedException")), "injected by the test")
    snapshot = _readable(self, self._get_param("SnapshotId"))
    start, size = _page(self)
    if behaviour.get("endless_block_listing"):  # a broken or hostile endpoint
        start = 0
    blocks = view(snapshot)
    indices = sorted(index for index in blocks if index >= start)
    items = [{"BlockIndex": index, "BlockToken": token(blocks[index])} for index in indices[:size]]
    endless = base64.b64encode(b"0").decode() if behaviour.get("endless_block_listing") else None
    return _answer(snapshot, "Blocks", items, endless or _next(indices, size))


def list_changed_blocks(self: EBSResponse) -> ActionResult:
    first_id, second_id = self._get_param("FirstSnapshotId"), self._get_param("SecondSnapshotId")
    if not first_id:
        raise _error("ValidationException", "FirstSnapshotId must be specified with SecondSnapshotId",
                     "INVALID_PARAMETER_VALUE")
    first, second = _readable(self, first_id), _readable(self, second_id)
    if _root(first) != _root(second):
        raise _error("ValidationException", f"The snapshots {first_id} and {second_id} are not of the same lineage.",
                     "UNRELATED_SNAPSHOTS")
    start, size = _page(self)
    old, new = view(first), view(second)
    indices = sorted(index for index in set(old) | set(new) if index >= start)
    items = []
    for index in indices[:size]:
        before, after = old.get(index), new.get(index)
        if before is after:
            continue
        item: dict[str, Any] = {"BlockIndex": index}
        if before is not None:
            item["FirstBlockToken"] = token(before)
        if after is not None:
            item["SecondBlockToken"] = token(after)
        items.append(item)
    return _answer(second, "ChangedBlocks", items, _next(indices, size))


def get_snapshot_block(self: EBSResponse) -> ActionResult:
    snapshot = _readable(self, self._get_param("SnapshotId"))
    index = _int(self, "BlockIndex", -1)
    block = view(snapshot).get(index)
    if block is None or self._get_param("BlockToken") != token(block):
        raise _error("ValidationException", f"The block token for block {index} is not valid.", "INVALID_BLOCK_TOKEN")
    return ActionResult({"DataLength": block.data_length, "BlockData": block.block_data, "Checksum": block.checksum,
                         "ChecksumAlgorithm": block.checksum_algorithm})


def install() -> None:
    for handler in (list_snapshot_blocks, list_changed_blocks, get_snapshot_block):
        setattr(EBSResponse, handler.__name__, handler)
