"""AMIs and their snapshots over time, as AWS behaves and moto does not.

Always: an AMI reports the mappings and attributes it was registered with; a snapshot an AMI
maps is in use; DeregisterImage honours DeleteAssociatedSnapshots; CreateTags can be made to fail
(``fail``). Switched on per test (``moto_ext_behaviour``): new AMIs, copies and imported
snapshots are invisible for a while (``describe_lag``), AMIs stay ``pending`` for a while, and a
snapshot stays in use for a while after its AMI is deregistered.
"""

from __future__ import annotations

from typing import Any

import moto_ext_behaviour as behaviour
from moto.core.responses import ActionResult, EmptyResult
from moto.ebs.models import ebs_backends
from moto.ec2.models.amis import Ami
from moto.ec2.responses import EC2Response
from moto_ext_ebs_lineage import settled
from moto_ext_errors import fault

_FAILED = "failed"


class RegisteredAmi(Ami):
    """An AMI that reports the mappings and attributes it was registered with, and a state that
    changes with time (``ami_pending_seconds``) or by a test (``POST`` of a state via tags)."""

    __module__ = "moto.ec2.lkcloud_test"  # moto's model registry keys classes by service
    lk_mappings: list[dict[str, Any]]
    lk_state: str = "available"

    @property
    def block_device_mappings(self) -> list[dict[str, Any]]:
        return self.lk_mappings

    @property  # type: ignore[override]
    def state(self) -> str:
        # New AMIs (RegisterImage, CopyImage) are "pending" until AWS has made them available:
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html (State).
        if self.lk_state == "available" and behaviour.age(self.id) < float(behaviour.get("ami_pending_seconds")):
            return "pending"
        wanted = {t["key"]: t["value"] for t in self.get_tags()}.get("lkcloud-test:state")
        return wanted or self.lk_state

    @state.setter
    def state(self, value: str) -> None:
        self.lk_state = value


def adopt(backend: Any, ami: Ami, mappings: list[dict[str, Any]], attributes: dict[str, Any]) -> RegisteredAmi:
    backend.snapshots.pop(ami.ebs_snapshot.id, None)  # moto's stand-in 15 GiB snapshot
    ami.__class__ = RegisteredAmi
    assert isinstance(ami, RegisteredAmi)
    ami.lk_mappings = mappings
    ami.root_device_type = "ebs"
    for key, value in attributes.items():
        setattr(ami, key, value)
    for mapping in mappings:
        snapshot = backend.snapshots[mapping["Ebs"]["SnapshotId"]]
        snapshot.from_ami = ami.id
        snapshot.lk_amis = {*getattr(snapshot, "lk_amis", set()), ami.id}
    behaviour.born(ami.id)
    return ami


def _not_found(resource_id: str) -> Exception:
    if resource_id.startswith("ami-"):
        return fault("ec2", "InvalidAMIID.NotFound", f"The image id '[{resource_id}]' does not exist")
    return fault("ec2", "InvalidSnapshot.NotFound", f"The snapshot '{resource_id}' does not exist.")


def _check_visible(ids: list[str]) -> None:
    """Right after RegisterImage, CopyImage or ImportSnapshot, AWS may not find the new resource
    ("eventual consistency": https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html)."""
    for resource_id in ids:
        if behaviour.hidden(resource_id):
            raise _not_found(resource_id)


_original_describe_images = EC2Response.describe_images


def describe_images(self: EC2Response) -> ActionResult:
    _check_visible(self._get_param("ImageIds", []))
    result = _original_describe_images(self)
    images = result.result["Images"]  # type: ignore[index]
    result.result["Images"] = [image for image in images if not behaviour.hidden(image.id)]  # type: ignore[index]
    return result


_original_describe_snapshots = EC2Response.describe_snapshots


def describe_snapshots(self: EC2Response) -> ActionResult:
    _check_visible(self._get_param("SnapshotIds", []))
    for snapshot in self.ec2_backend.snapshots.values():
        settled(snapshot)
    result = _original_describe_snapshots(self)
    shown = [s for s in result.result["Snapshots"] if not behaviour.hidden(s.id)]  # type: ignore[index]
    result.result["Snapshots"] = shown  # type: ignore[index]
    return result


_original_create_tags = EC2Response.create_tags


def create_tags(self: EC2Response) -> ActionResult:
    armed = behaviour.take_fault("CreateTags")
    if armed:
        raise fault("ec2", str(armed.get("code", "UnauthorizedOperation")), "injected by the test")
    _check_visible(self._get_param("Resources", []))
    return _original_create_tags(self)


def deregister_image(self: EC2Response) -> ActionResult:
    """DeregisterImage with DeleteAssociatedSnapshots: the AMI's snapshots go too, unless another
    AMI uses them (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeregisterImage.html)."""
    backend = self.ec2_backend
    ami_id = self._get_param("ImageId")
    image = backend.amis.get(ami_id)
    backend.deregister_image(ami_id)
    results = []
    for mapping in getattr(image, "lk_mappings", []):
        snapshot = backend.snapshots.get(mapping["Ebs"]["SnapshotId"])
        if snapshot is None:
            continue
        snapshot.lk_amis = {a for a in getattr(snapshot, "lk_amis", set()) if a in backend.amis}
        snapshot.lk_released_at = behaviour.now()
        if str(self._get_param("DeleteAssociatedSnapshots", False)).lower() != "true":
            continue
        if snapshot.lk_amis:
            results.append({"SnapshotId": snapshot.id, "ReturnCode": "skipped"})
            continue
        _forget(backend, snapshot.id)
        results.append({"SnapshotId": snapshot.id, "ReturnCode": "success"})
    return ActionResult({"Return": True, "DeleteSnapshotResults": results})


def _forget(backend: Any, snapshot_id: str) -> None:
    """A deleted snapshot is gone for EC2 and for the EBS direct APIs alike (moto keeps two copies)."""
    backend.snapshots.pop(snapshot_id, None)
    ebs_backends[backend.account_id][backend.region_name].snapshots.pop(snapshot_id, None)


def delete_snapshot(self: EC2Response) -> ActionResult:
    """InvalidSnapshot.InUse while an AMI maps the snapshot, and (``in_use_after_deregister``) for
    a while after its AMI was deregistered, as AWS answers in practice."""
    backend = self.ec2_backend
    snapshot_id = self._get_param("SnapshotId")
    snapshot = backend.snapshots.get(snapshot_id)
    if snapshot is None:
        raise fault("ec2", "InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist.")
    users = sorted(a for a in getattr(snapshot, "lk_amis", set()) if a in backend.amis)
    released = getattr(snapshot, "lk_released_at", None)
    lingering = released is not None and behaviour.now() - released < float(behaviour.get("in_use_after_deregister"))
    if users or lingering:
        user = users[0] if users else "an image being deregistered"
        raise fault("ec2", "InvalidSnapshot.InUse", f"The snapshot {snapshot_id} is currently in use by {user}")
    _forget(backend, snapshot_id)
    return EmptyResult()


def install() -> None:
    handlers = {
        "describe_images": describe_images,
        "describe_snapshots": describe_snapshots,
        "create_tags": create_tags,
        "deregister_image": deregister_image,
        "delete_snapshot": delete_snapshot,
    }
    for name, handler in handlers.items():
        setattr(EC2Response, name, handler)
