"""Run instances: IMDSv2 required, LinuxKit user data, lkcloud tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lkcloud.metadata import check_size
from lkcloud.provider.types import Health, Instance
from lkcloud_aws import tags
from lkcloud_aws.session import Aws, call

# IMDSv2 only: LinuxKit's metadata package must use session tokens (what ImdsSupport v2.0 AMIs expect).
METADATA_OPTIONS = {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2}
_HEALTH = {"running": Health.HEALTHY, "pending": Health.STARTING}


@dataclass(frozen=True)
class Placement:
    instance_type: str
    subnet: str | None = None
    security_group: str | None = None
    key_name: str | None = None


def to_instance(raw: Mapping[str, Any], version: str | None = None) -> Instance:
    state = str(raw.get("State", {}).get("Name", "unknown"))
    return Instance(id=str(raw["InstanceId"]), image=str(raw.get("ImageId", "")), state=state,
                    health=_HEALTH.get(state, Health.UNKNOWN),
                    address=raw.get("PublicIpAddress") or raw.get("PrivateIpAddress"), version=version)


def run(aws: Aws, image_id: str, placement: Placement, *, count: int = 1, user_data: bytes | None = None,
        name: str | None = None) -> list[Instance]:
    """Start ``count`` instances of ``image_id``."""
    args: dict[str, Any] = {
        "ImageId": image_id, "InstanceType": placement.instance_type, "MinCount": count, "MaxCount": count,
        "MetadataOptions": METADATA_OPTIONS,
        "TagSpecifications": tags.specs(["instance"], {tags.MANAGED: "true", "Name": name or image_id}),
    }
    if placement.subnet:
        args["SubnetId"] = placement.subnet
    if placement.security_group:
        args["SecurityGroupIds"] = [placement.security_group]
    if placement.key_name:
        args["KeyName"] = placement.key_name
    if user_data is not None:
        check_size(user_data, "aws")
        args["UserData"] = user_data  # botocore base64-encodes it
    reservation = call(aws.retrying(), aws.client("ec2").run_instances, **args)
    return [to_instance(raw) for raw in reservation["Instances"]]


def console_output(aws: Aws, instance_id: str) -> str:
    """The instance's serial console output so far ("" when there is none yet)."""
    found = call(aws.retrying(), aws.client("ec2").get_console_output, InstanceId=instance_id)
    return str(found.get("Output") or "")


def describe(aws: Aws, instance_ids: list[str]) -> list[dict[str, Any]]:
    if not instance_ids:
        return []
    found = call(aws.retrying(), aws.client("ec2").describe_instances, InstanceIds=instance_ids)
    return [raw for reservation in found["Reservations"] for raw in reservation["Instances"]]
