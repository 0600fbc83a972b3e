"""EBS direct APIs as AWS behaves and moto does not.

Always: ClientToken idempotency (the first answer replayed for the same parameters, even after
the snapshot is gone; ConflictException for other parameters), snapshots pending until
CompleteSnapshot, DataLength/checksum/ChangedBlocksCount/LINEAR checks, BlockSize 524288;
ParentSnapshotId and reads through the parent chain are ``moto_ext_ebs_lineage``'s.
Switched on per test (``moto_ext_behaviour``): ResourceNotFoundException for a while after
StartSnapshot, throttling of bursts, slow block writes, and snapshots that stay pending while
EBS completes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any

import moto_ext_behaviour as behaviour
from moto.core.responses import ActionResult
from moto.ebs.models import EBSBackend
from moto.ebs.responses import EBSResponse
from moto_ext_ebs_lineage import adopt, check_parent
from moto_ext_errors import fault

BLOCK_SIZE = 524288
_in_flight = [0]
_in_flight_lock = threading.Lock()
_link_free = [0.0]  # when the modelled uplink is next free (time.monotonic())


def _tokens(backend: EBSBackend) -> dict[str, tuple[str, dict[str, Any]]]:
    if not hasattr(backend, "lk_tokens"):
        backend.lk_tokens = {}  # type: ignore[attr-defined]
    return backend.lk_tokens  # type: ignore[attr-defined, no-any-return]


_original_start = EBSResponse.start_snapshot


def _request_key(self: EBSResponse) -> str:
    names = ("VolumeSize", "ParentSnapshotId", "Tags", "Description", "Encrypted", "KmsKeyArn", "Timeout")
    return json.dumps({name: self._get_param(name) for name in names}, sort_keys=True, default=str)


def start_snapshot(self: EBSResponse) -> ActionResult:
    # "If you retry an API request with the same client token and the same request parameters after it
    # has completed successfully, the result of the original request is returned. If you retry a request
    # with the same client token, but change one or more of the request parameters, the ConflictException
    # error is returned." https://docs.aws.amazon.com/ebs/latest/userguide/ebs-direct-api-idempotency.html
    token = self._get_param("ClientToken")
    backend = self.ebs_backend
    known = _tokens(backend).get(token) if token else None
    if known is not None:
        key, answer = known
        if key != _request_key(self):
            raise fault("ebs", "ConflictException", "The request uses the same client token as a previous, but"
                                                    " non-identical request.")
        return ActionResult(answer)
    parent_id = self._get_param("ParentSnapshotId")
    parent = check_parent(backend, parent_id, self._get_param("VolumeSize"), self._get_param("Encrypted"))
    result = _original_start(self)
    snapshot_id = result.result["SnapshotId"]  # type: ignore[index]
    backend.ec2_backend.snapshots[snapshot_id].status = "pending"
    snapshot = backend.snapshots[snapshot_id]
    snapshot.block_size = BLOCK_SIZE
    adopt(snapshot, parent)
    behaviour.born(snapshot_id)
    answer = {"SnapshotId": snapshot_id, "OwnerId": snapshot.account_id, "Status": "pending",
              "VolumeSize": snapshot.volume_size, "BlockSize": BLOCK_SIZE, "StartTime": snapshot.start_time,
              "Tags": snapshot.tags, "Description": snapshot.description}
    if parent_id:
        answer["ParentSnapshotId"] = parent_id
    if token:
        _tokens(backend)[token] = (_request_key(self), answer)
    return ActionResult(answer)


def _check_pending(backend: EBSBackend, snapshot_id: str) -> Any:
    snapshot = backend.snapshots.get(snapshot_id)
    if snapshot is None:
        raise fault("ebs", "ResourceNotFoundException", f"The snapshot '{snapshot_id}' does not exist.")
    if snapshot.status != "pending":
        raise fault("ebs", "ValidationException", f"snapshot {snapshot_id} is {snapshot.status}, not pending")
    return snapshot


_original_put = EBSResponse.put_snapshot_block


def _throttle_burst() -> bool:
    """Count this request in flight; True when it is one too many (EBS direct throttles bursts:
    https://docs.aws.amazon.com/ebs/latest/userguide/ebsapi-performance.html)."""
    limit = int(behaviour.get("max_puts_in_flight"))
    with _in_flight_lock:
        _in_flight[0] += 1
        return bool(limit) and _in_flight[0] > limit


def _on_the_wire() -> float:
    """Seconds this block spends crossing the modelled uplink (``uplink_bytes_per_second``): the
    blocks in flight share it, one after another, as a client's upload bandwidth is shared."""
    rate = float(behaviour.get("uplink_bytes_per_second"))
    if rate <= 0:
        return 0.0
    with _in_flight_lock:
        start = max(time.monotonic(), _link_free[0])
        _link_free[0] = start + BLOCK_SIZE / rate
        return _link_free[0] - time.monotonic()


def put_snapshot_block(self: EBSResponse) -> ActionResult:
    snapshot_id = self._get_param("SnapshotId")
    try:
        if _throttle_burst():
            code = str(behaviour.get("throttle_code"))
            raise fault("ebs", code, "The number of API requests has exceeded the maximum allowed API request"
                                     " throttling limit for the snapshot.")
        # A snapshot just started may not exist yet for the block store: AWS's coldsnap retries
        # "snapshot does not exist" for about two minutes on the EBS team's advice
        # (https://github.com/awslabs/coldsnap/issues/43, https://github.com/awslabs/coldsnap/pull/56).
        if behaviour.age(snapshot_id) < float(behaviour.get("not_found_after_start")):
            raise fault("ebs", "ResourceNotFoundException", f"The snapshot '{snapshot_id}' does not exist.")
        time.sleep(float(behaviour.get("put_seconds")) + _on_the_wire())
        return _put(self, snapshot_id)
    finally:
        with _in_flight_lock:
            _in_flight[0] -= 1


def _put(self: EBSResponse, snapshot_id: str) -> ActionResult:
    snapshot = _check_pending(self.ebs_backend, snapshot_id)
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
    # CompleteSnapshot "starts an asynchronous workflow that seals the snapshot and moves it to the
    # completed state" (https://docs.aws.amazon.com/ebs/latest/userguide/writesnapshots.html): with
    # completing_seconds the EC2 snapshot stays pending (no more writes) until that workflow ends.
    snapshot.status = "completed"
    ec2 = self.ebs_backend.ec2_backend.snapshots[snapshot_id]
    delay = float(behaviour.get("completing_seconds"))
    if delay > 0:
        ec2.lk_completed_at = behaviour.now() + delay
        return ActionResult({"Status": "pending"})
    ec2.status = "completed"
    return ActionResult({"Status": "completed"})


def install() -> None:
    handlers = {
        "start_snapshot": start_snapshot,
        "put_snapshot_block": put_snapshot_block,
        "complete_snapshot": complete_snapshot,
    }
    for name, handler in handlers.items():
        setattr(EBSResponse, name, handler)
