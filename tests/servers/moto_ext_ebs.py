"""EBS direct APIs as AWS behaves and moto does not: ClientToken idempotency, snapshots
pending until CompleteSnapshot, DataLength/checksum/ChangedBlocksCount/LINEAR checks."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from moto.core.responses import ActionResult
from moto.ebs.models import EBSBackend
from moto.ebs.responses import EBSResponse
from moto_ext_errors import fault

BLOCK_SIZE = 524288


def _tokens(backend: EBSBackend) -> dict[str, str]:
    if not hasattr(backend, "lk_tokens"):
        backend.lk_tokens = {}  # type: ignore[attr-defined]
    return backend.lk_tokens  # type: ignore[attr-defined, no-any-return]


_original_start = EBSResponse.start_snapshot


def start_snapshot(self: EBSResponse) -> ActionResult:
    token = self._get_param("ClientToken")
    backend = self.ebs_backend
    known = _tokens(backend).get(token) if token else None
    if known is None:
        result = _original_start(self)
        snapshot_id = result.result["SnapshotId"]  # type: ignore[index]
        backend.ec2_backend.snapshots[snapshot_id].status = "pending"
        backend.snapshots[snapshot_id].block_size = BLOCK_SIZE
        if token:
            _tokens(backend)[token] = snapshot_id
        return result
    snapshot = backend.snapshots[known]
    return ActionResult({"SnapshotId": known, "OwnerId": snapshot.account_id, "Status": snapshot.status,
                         "VolumeSize": snapshot.volume_size, "BlockSize": snapshot.block_size,
                         "StartTime": snapshot.start_time, "Tags": snapshot.tags})


def _check_pending(backend: EBSBackend, snapshot_id: str) -> Any:
    snapshot = backend.snapshots.get(snapshot_id)
    if snapshot is None:
        raise fault("ebs", "ResourceNotFoundException", f"snapshot {snapshot_id} does not exist")
    if snapshot.status != "pending":
        raise fault("ebs", "ValidationException", f"snapshot {snapshot_id} is {snapshot.status}, not pending")
    return snapshot


_original_put = EBSResponse.put_snapshot_block


def put_snapshot_block(self: EBSResponse) -> ActionResult:
    snapshot = _check_pending(self.ebs_backend, self._get_param("SnapshotId"))
    data = self._get_param("BlockData") or b""
    if isinstance(data, str):
        data = data.encode()
    index = int(self._get_param("BlockIndex"))
    if int(self._get_param("DataLength")) != BLOCK_SIZE or len(data) != BLOCK_SIZE:
        raise fault("ebs", "ValidationException", f"DataLength must be {BLOCK_SIZE}, got {len(data)}")
    if index * BLOCK_SIZE >= snapshot.volume_size * (1 << 30):
        raise fault("ebs", "ValidationException", f"BlockIndex {index} is beyond the volume")
    if base64.b64encode(hashlib.sha256(data).digest()).decode() != self._get_param("Checksum"):
        raise fault("ebs", "ValidationException", f"checksum mismatch for block {index}")
    return _original_put(self)


def complete_snapshot(self: EBSResponse) -> ActionResult:
    snapshot_id = self._get_param("SnapshotId")
    snapshot = _check_pending(self.ebs_backend, snapshot_id)
    count = int(self._get_param("ChangedBlocksCount"))
    if count != len(snapshot.blocks):
        written = len(snapshot.blocks)
        raise fault("ebs", "ValidationException", f"ChangedBlocksCount {count} but {written} blocks were written")
    if self._get_param("ChecksumAggregationMethod") == "LINEAR":
        joined = b"".join(base64.b64decode(snapshot.blocks[i].checksum) for i in sorted(snapshot.blocks))
        if base64.b64encode(hashlib.sha256(joined).digest()).decode() != self._get_param("Checksum"):
            raise fault("ebs", "ValidationException", "aggregate checksum mismatch")
    snapshot.status = "completed"
    self.ebs_backend.ec2_backend.snapshots[snapshot_id].status = "completed"
    return ActionResult({"Status": "completed"})


def install() -> None:
    handlers = {
        "start_snapshot": start_snapshot,
        "put_snapshot_block": put_snapshot_block,
        "complete_snapshot": complete_snapshot,
    }
    for name, handler in handlers.items():
        setattr(EBSResponse, name, handler)
