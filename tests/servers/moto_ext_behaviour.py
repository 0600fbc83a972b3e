"""Switches for the AWS behaviours the extended moto server models, all off by default.

moto answers at once, never throttles and flips every state instantly; AWS does not, and lkcloud
must survive how AWS really behaves. Each switch turns on one documented behaviour (the handler
that models it cites the documentation); a test switches on what it needs with
``POST /_lkcloud/behave`` (a JSON object of switches) and ``POST /_lkcloud/reset`` turns them all
off again.
"""

from __future__ import annotations

import threading
import time
from typing import Any

DEFAULTS: dict[str, Any] = {
    # EBS direct APIs
    "not_found_after_start": 0.0,  # s: PutSnapshotBlock answers ResourceNotFoundException after StartSnapshot
    "max_puts_in_flight": 0,  # PutSnapshotBlock requests in flight beyond this are throttled (0: no limit)
    "throttle_code": "RequestThrottledException",  # or ConcurrentLimitExceededException
    "put_seconds": 0.0,  # s: how long one PutSnapshotBlock takes
    "uplink_bytes_per_second": 0,  # block data crosses one shared link of this speed (0: no limit)
    "endless_block_listing": False,  # ListSnapshotBlocks answers its first page, with a NextToken, for ever
    "completing_seconds": 0.0,  # s: a snapshot stays pending after CompleteSnapshot
    # EC2
    "describe_lag": 0.0,  # s: a new AMI, copy, imported snapshot, import task or refresh is not yet visible
    "ami_pending_seconds": 0.0,  # s: a registered or copied AMI stays pending
    "in_use_after_deregister": 0.0,  # s: DeleteSnapshot answers InvalidSnapshot.InUse after DeregisterImage
    "local_zones": False,  # DescribeAvailabilityZones also lists an opted-in Local Zone
    "launch_template_tokens": False,  # CreateLaunchTemplate's ClientToken replays the first answer
    "iam_propagation": 0.0,  # s: a new role is not yet usable by ImportSnapshot
    # S3
    "max_parts_per_page": 1000,  # ListParts' page size (AWS: at most 1000)
    # Auto Scaling
    "warmup_scale": 0.0,  # InstanceWarmup seconds are waited this many times (0: warmups pass at once)
    "checkpoints": False,  # instance refreshes pause CheckpointDelay seconds at each checkpoint
    "delete_seconds": 0.0,  # s: a deleted Auto Scaling group stays "Delete in progress"
    # SSM
    "ssm_validation_seconds": -1.0,  # s until an aws:ec2:image value is validated and stored (-1: at once)
    # the whole server
    "clock_offset": 0.0,  # s added to the server's clock (the Date header), to age earlier answers
    "fail": {},  # {"Action": {"code": ..., "status": ..., "count": n}}: the next n calls of Action fail
}

_lock = threading.Lock()
_state: dict[str, Any] = {}
_born: dict[str, float] = {}


def reset() -> None:
    with _lock:
        _state.clear()
        _state.update({key: (dict(value) if isinstance(value, dict) else value) for key, value in DEFAULTS.items()})
        _born.clear()


def update(values: dict[str, Any]) -> None:
    unknown = set(values) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown behaviours: {sorted(unknown)}")
    with _lock:
        _state.update(values)


def get(name: str) -> Any:
    with _lock:
        return _state[name]


def now() -> float:
    return time.monotonic()


def born(resource_id: str) -> None:
    """Remember when ``resource_id`` was made (for the windows counted from creation)."""
    with _lock:
        _born[resource_id] = now()


def age(resource_id: str) -> float:
    """Seconds since ``resource_id`` was made (a large number for what the server did not record)."""
    with _lock:
        made = _born.get(resource_id)
    return 1e9 if made is None else now() - made


def hidden(resource_id: str) -> bool:
    """Whether ``resource_id`` is still invisible to Describe calls (``describe_lag``)."""
    return age(resource_id) < float(get("describe_lag"))


def take_fault(action: str) -> dict[str, Any] | None:
    """The injected fault for the next call of ``action``, if one is armed (and disarm one)."""
    with _lock:
        armed = _state["fail"].get(action)
        if not armed or int(armed.get("count", 1)) <= 0:
            return None
        armed["count"] = int(armed.get("count", 1)) - 1
        return dict(armed)


reset()
