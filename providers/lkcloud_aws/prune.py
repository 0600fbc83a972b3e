"""List and prune the AMIs lkcloud made: keep the newest N per family, never one in use."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import ImageRecord
from lkcloud_aws import tags
from lkcloud_aws.fleet import images_in_use
from lkcloud_aws.image import deregister
from lkcloud_aws.session import Aws


def _images(aws: Aws) -> list[dict[str, Any]]:
    ec2 = aws.client("ec2")
    return list(aws.pages(ec2.describe_images, "Images", Owners=["self"],
                          Filters=[{"Name": f"tag:{tags.MANAGED}", "Values": ["true"]}]))


def _running_images(aws: Aws) -> set[str]:
    ec2 = aws.client("ec2")
    reservations = aws.pages(ec2.describe_instances, "Reservations",
                             Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping",
                                                                                 "stopped"]}])
    return {str(raw["ImageId"]) for reservation in reservations for raw in reservation["Instances"]}


def _record(image: dict[str, Any], used: set[str]) -> ImageRecord:
    labels = tags.tag_dict(image.get("Tags"))
    mappings = image.get("BlockDeviceMappings", [])
    snapshots = [m["Ebs"]["SnapshotId"] for m in mappings if m.get("Ebs", {}).get("SnapshotId")]
    return ImageRecord("aws", str(image["ImageId"]), str(image.get("Name", "")), str(image.get("CreationDate", "")),
                       in_use=image["ImageId"] in used,
                       details={"family": labels.get(tags.FAMILY, ""), "digest": labels.get(tags.DIGEST, ""),
                                "snapshots": snapshots, "state": image.get("State", "")})


def list_images(aws: Aws) -> list[ImageRecord]:
    """lkcloud's AMIs in the region, newest first, marked in use by a launch template or instance."""
    used = images_in_use(aws) | _running_images(aws)
    records = [_record(image, used) for image in _images(aws)]
    return sorted(records, key=lambda r: (r.created, r.id), reverse=True)


def prune(aws: Aws, keep: int, reporter: Reporter = NULL, dry_run: bool = False) -> list[ImageRecord]:
    """Deregister all but the newest ``keep`` AMIs of each family (and delete their snapshots);
    AMIs a launch template version or an instance uses are never removed. The removed records."""
    families: dict[str, list[ImageRecord]] = defaultdict(list)
    for record in list_images(aws):
        families[record.details["family"]].append(record)
    removed = []
    for records in families.values():
        for record in records[max(keep, 0):]:
            if record.in_use:
                reporter.step(f"keeping {record.id} ({record.name}): in use")
                continue
            reporter.step(f"{'would remove' if dry_run else 'removing'} {record.id} ({record.name})")
            if not dry_run:
                mappings = [{"Ebs": {"SnapshotId": snapshot}} for snapshot in record.details["snapshots"]]
                deregister(aws, {"ImageId": record.id, "BlockDeviceMappings": mappings})
            removed.append(record)
    return removed
