"""The AMIs lkcloud made: listed with their family, digest and use; deleted one at a time with
the snapshots they alone hold. Which to delete is the core's prune policy."""

from __future__ import annotations

from typing import Any

from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import ImageRecord
from lkcloud_aws import tags
from lkcloud_aws.errors import AwsError
from lkcloud_aws.fleet import images_in_use
from lkcloud_aws.session import Aws

_LIVE = ["pending", "running", "stopping", "stopped"]
ARCHES = {"x86_64": "amd64", "arm64": "arm64"}  # EC2's words


def _images(aws: Aws) -> list[dict[str, Any]]:
    return list(aws.pages("listing lkcloud's AMIs", aws.client("ec2").describe_images, "Images", Owners=["self"],
                          Filters=[{"Name": f"tag:{tags.MANAGED}", "Values": [tags.TRUE]}]))


def _running_images(aws: Aws) -> set[str]:
    reservations = aws.pages("listing instances", aws.client("ec2").describe_instances, "Reservations",
                             Filters=[{"Name": "instance-state-name", "Values": _LIVE}])
    return {str(raw["ImageId"]) for reservation in reservations for raw in reservation["Instances"]}


def snapshots_of(image: dict[str, Any]) -> list[str]:
    return [str(m["Ebs"]["SnapshotId"]) for m in image.get("BlockDeviceMappings", [])
            if m.get("Ebs", {}).get("SnapshotId")]


def _record(image: dict[str, Any], used: set[str], region: str) -> ImageRecord:
    labels = tags.tag_dict(image.get("Tags"))
    return ImageRecord("aws", str(image["ImageId"]), str(image.get("Name", "")), str(image.get("CreationDate", "")),
                       family=labels.get(tags.FAMILY, ""), digest=labels.get(tags.DIGEST, ""),
                       in_use=image["ImageId"] in used, arch=ARCHES.get(str(image.get("Architecture")), ""),
                       details={"region": region, "snapshots": snapshots_of(image),
                                "state": image.get("State", "")})


def list_images(aws: Aws) -> list[ImageRecord]:
    """lkcloud's AMIs in the region, newest first, marked in use by a launch template or instance."""
    used = images_in_use(aws) | _running_images(aws)
    records = [_record(image, used, aws.region) for image in _images(aws)]
    return sorted(records, key=lambda r: (r.created, r.id), reverse=True)


def _used_elsewhere(aws: Aws, snapshot_id: str, deleted: str) -> bool:
    """Whether another of our AMIs maps ``snapshot_id`` (same content pushed under two names)."""
    return any(snapshot_id in snapshots_of(image) for image in _images(aws)
               if image["ImageId"] != deleted and image.get("State") != "deregistered")


def delete(aws: Aws, record: ImageRecord, reporter: Reporter = NULL) -> list[str]:
    """Deregister the AMI and delete the snapshots it alone maps; the snapshot ids deleted.

    DeregisterImage deletes them itself (DeleteAssociatedSnapshots); one it did not delete is
    deleted here unless another AMI maps it, and "in use" right after the deregistration (AWS
    answers so for a while) is waited out, so that no billed snapshot is left behind."""
    reporter.step(f"removing {record.id} ({record.name})")
    answer = aws.call(f"deregistering {record.id}", aws.client("ec2").deregister_image, ImageId=record.id,
                      DeleteAssociatedSnapshots=True)
    done = {str(r["SnapshotId"]) for r in answer.get("DeleteSnapshotResults", []) if r.get("ReturnCode") == "success"}
    for snapshot_id in record.details.get("snapshots", []):
        if snapshot_id in done or _used_elsewhere(aws, snapshot_id, record.id):
            continue
        try:
            aws.call(f"deleting snapshot {snapshot_id}", aws.client("ec2").delete_snapshot, SnapshotId=snapshot_id,
                     fresh=("InvalidSnapshot.InUse",))
        except AwsError as exc:
            if exc.code != "InvalidSnapshot.NotFound":
                raise
        done.add(snapshot_id)
    return sorted(done)
