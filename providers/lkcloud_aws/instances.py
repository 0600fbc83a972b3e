"""Run instances: IMDSv2 required, LinuxKit user data, lkcloud tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lkcloud.fleet import defaults as fleet_defaults
from lkcloud.platform import Arch
from lkcloud.provider.types import Health, Instance
from lkcloud.userdata.tree import check_size
from lkcloud_aws import tags
from lkcloud_aws.config import Placement
from lkcloud_aws.session import Aws

# IMDSv2 only: LinuxKit's metadata package must use session tokens (what ImdsSupport v2.0 AMIs expect).
METADATA_OPTIONS = {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 2}
_HEALTH = {"running": Health.HEALTHY, "pending": Health.STARTING}


def instance_type(placement: Placement, requested: str | None, arch: Arch) -> str:
    """--instance-type, else aws.instance-type, else templates/fleets.yml's type for ``arch``."""
    return fleet_defaults.instance_type("aws", arch, requested, placement.instance_type)


def to_instance(raw: Mapping[str, Any], version: str | None = None) -> Instance:
    state = str(raw.get("State", {}).get("Name", "unknown"))
    return Instance(id=str(raw["InstanceId"]), image=str(raw.get("ImageId", "")), state=state,
                    health=_HEALTH.get(state, Health.UNKNOWN),
                    address=raw.get("PublicIpAddress") or raw.get("PrivateIpAddress"), version=version)


def run(aws: Aws, image_id: str, placement: Placement, kind: str, *, count: int = 1, user_data: bytes | None = None,
        name: str | None = None) -> list[Instance]:
    """Start ``count`` instances of ``image_id`` on instance type ``kind``."""
    args: dict[str, Any] = {
        "ImageId": image_id, "InstanceType": kind, "MinCount": count, "MaxCount": count,
        "MetadataOptions": METADATA_OPTIONS,
        "TagSpecifications": tags.specs(["instance"], {tags.MANAGED: tags.TRUE, "Name": name or image_id}),
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
    reservation = aws.call(f"starting {count} x {kind}", aws.client("ec2").run_instances, **args)
    return [to_instance(raw) for raw in reservation["Instances"]]


def console_output(aws: Aws, instance_id: str) -> str:
    """The instance's serial console output so far ("" when there is none yet)."""
    found = aws.call(f"reading the console of {instance_id}", aws.client("ec2").get_console_output,
                     fresh=("InvalidInstanceID.NotFound",), InstanceId=instance_id)
    return str(found.get("Output") or "")
