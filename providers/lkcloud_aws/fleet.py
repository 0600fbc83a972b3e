"""Fleets: a launch template (versions always pinned, never $Latest) and an Auto Scaling group;
refresh = a new template version + an instance refresh, followed to its outcome."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from lkcloud.errors import ProviderError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import FleetStatus, Health, Instance, RefreshResult, UpdatePolicy
from lkcloud.userdata.tree import check_size
from lkcloud_aws import tags
from lkcloud_aws.config import Placement
from lkcloud_aws.errors import AwsError
from lkcloud_aws.instances import METADATA_OPTIONS
from lkcloud_aws.session import Aws

_HEALTH = {"Healthy": Health.HEALTHY, "Unhealthy": Health.UNHEALTHY}
_FINAL = {"Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"}


@dataclass(frozen=True)
class Fleet:
    """An lkcloud fleet as AWS holds it."""

    name: str
    template_id: str
    version: str  # the pinned launch-template version the group uses
    image: str


def template_name(fleet: str) -> str:
    return f"lkcloud-{fleet}"


def _template_data(image: str, placement: Placement, kind: str, user_data: bytes | None) -> dict[str, Any]:
    data: dict[str, Any] = {"ImageId": image, "InstanceType": kind, "MetadataOptions": METADATA_OPTIONS}
    if user_data is not None:
        check_size(user_data, "aws")
        data["UserData"] = base64.b64encode(user_data).decode()
    if placement.security_group:
        data["SecurityGroupIds"] = [placement.security_group]
    if placement.key_name:
        data["KeyName"] = placement.key_name
    return data


def _groups(aws: Aws, name: str) -> list[dict[str, Any]]:
    return list(aws.call(f"describing fleet {name}", aws.client("autoscaling").describe_auto_scaling_groups,
                         AutoScalingGroupNames=[name])["AutoScalingGroups"])


def _group(aws: Aws, name: str) -> dict[str, Any]:
    found = _groups(aws, name)
    if not found:
        raise UsageError(f"no fleet named {name!r} in {aws.region}", hint="see `lkcloud fleet create aws --help`")
    return found[0]


def _version_image(aws: Aws, template_id: str, version: str) -> str:
    found = aws.call(f"describing launch template {template_id} v{version}",
                     aws.client("ec2").describe_launch_template_versions, LaunchTemplateId=template_id,
                     Versions=[version])["LaunchTemplateVersions"]
    return str(found[0]["LaunchTemplateData"].get("ImageId", "")) if found else ""


def get(aws: Aws, name: str) -> Fleet:
    group = _group(aws, name)
    template = group.get("LaunchTemplate") or {}
    if not template.get("LaunchTemplateId"):
        raise ProviderError(f"Auto Scaling group {name!r} has no launch template; it was not made by lkcloud")
    version = str(template["Version"])
    template_id = str(template["LaunchTemplateId"])
    return Fleet(name, template_id, version, _version_image(aws, template_id, version))


def _zones(aws: Aws) -> list[str]:
    # Only availability zones: Local and Wavelength Zones have no default subnet.
    found = aws.call("listing availability zones", aws.client("ec2").describe_availability_zones,
                     Filters=[{"Name": "state", "Values": ["available"]},
                              {"Name": "zone-type", "Values": ["availability-zone"]}])["AvailabilityZones"]
    return [zone["ZoneName"] for zone in found]


def create(aws: Aws, name: str, image: str, size: int, *, placement: Placement, kind: str,
           user_data: bytes | None = None, reporter: Reporter = NULL) -> FleetStatus:
    """A launch template (version 1) and an Auto Scaling group of ``size`` pinned to it."""
    fleet_tags = {tags.MANAGED: tags.TRUE, tags.FLEET: name}
    reporter.step(f"creating launch template {template_name(name)}")
    # One token per create: its retries are one create, and a later create after `fleet delete` is
    # not answered with the deleted template (a token replays its first answer).
    token = uuid.uuid4().hex
    template = aws.call(f"creating launch template {template_name(name)}", aws.client("ec2").create_launch_template,
                        LaunchTemplateName=template_name(name), ClientToken=token,
                        LaunchTemplateData=_template_data(image, placement, kind, user_data),
                        TagSpecifications=tags.specs(["launch-template"], fleet_tags))["LaunchTemplate"]
    where: dict[str, Any] = ({"VPCZoneIdentifier": placement.subnet} if placement.subnet
                             else {"AvailabilityZones": _zones(aws)})
    reporter.step(f"creating Auto Scaling group {name} ({size} instances)")
    aws.call(f"creating Auto Scaling group {name}", aws.client("autoscaling").create_auto_scaling_group,
             AutoScalingGroupName=name,
             LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"],
                             "Version": str(template["LatestVersionNumber"])},
             MinSize=size, MaxSize=size, DesiredCapacity=size, **where,
             Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True} for k, v in fleet_tags.items()])
    # A group just created may not be listed yet (eventual consistency).
    aws.wait(f"fleet {name} to be listed", lambda: _groups(aws, name), bool, timeout=aws.tuning.not_found)
    return status(aws, name)


def _member(aws: Aws, fleet: Fleet, raw: dict[str, Any]) -> Instance:
    version = str((raw.get("LaunchTemplate") or {}).get("Version", fleet.version))
    image = fleet.image if version == fleet.version else _version_image(aws, fleet.template_id, version)
    return Instance(id=raw["InstanceId"], image=image, state=raw.get("LifecycleState", "unknown"),
                    health=_HEALTH.get(raw.get("HealthStatus", ""), Health.UNKNOWN), version=version)


def status(aws: Aws, name: str) -> FleetStatus:
    group = _group(aws, name)
    fleet = get(aws, name)
    members = tuple(_member(aws, fleet, raw) for raw in group.get("Instances", []))
    settled = len(members) == group["DesiredCapacity"] and all(m.state == "InService" for m in members)
    return FleetStatus("aws", name, int(group["DesiredCapacity"]), fleet.image, members,
                       "stable" if settled else "changing")


def scale(aws: Aws, name: str, size: int) -> FleetStatus:
    if size < 0:
        raise UsageError("fleet size must be 0 or more")
    aws.call(f"scaling fleet {name} to {size}", aws.client("autoscaling").update_auto_scaling_group,
             AutoScalingGroupName=name, MinSize=size, MaxSize=size, DesiredCapacity=size)
    return status(aws, name)


def _preferences(policy: UpdatePolicy) -> dict[str, Any]:
    prefs: dict[str, Any] = {"MinHealthyPercentage": policy.min_healthy_percent, "AutoRollback": policy.auto_rollback,
                             "InstanceWarmup": policy.warmup_seconds, "SkipMatching": True}
    if policy.canary_percent:
        prefs["CheckpointPercentages"] = [policy.canary_percent, 100]
        prefs["CheckpointDelay"] = max(policy.pause_seconds, 0)  # AWS's default would be an hour
    return prefs


def refresh_deadline(aws: Aws, policy: UpdatePolicy) -> float:
    """Seconds a refresh may go without progress: a batch's warmup, the checkpoint pause, and a margin
    for launching and health checks."""
    pause = max(policy.pause_seconds, 0) if policy.canary_percent else 0
    return policy.warmup_seconds + pause + aws.tuning.refresh_margin


def new_version(aws: Aws, fleet: Fleet, image: str, user_data: bytes | None) -> str:
    """A launch-template version like the fleet's current one, with a new image (and/or user data)."""
    data: dict[str, Any] = {"ImageId": image}
    if user_data is not None:
        check_size(user_data, "aws")
        data["UserData"] = base64.b64encode(user_data).decode()
    created = aws.call(f"creating a launch template version for {fleet.name}",
                       aws.client("ec2").create_launch_template_version, LaunchTemplateId=fleet.template_id,
                       SourceVersion=fleet.version, LaunchTemplateData=data, VersionDescription=f"lkcloud {image}")
    return str(created["LaunchTemplateVersion"]["VersionNumber"])


def _refresh_state(aws: Aws, name: str, refresh_id: str) -> dict[str, Any]:
    found = aws.call(f"checking instance refresh {refresh_id}", aws.client("autoscaling").describe_instance_refreshes,
                     AutoScalingGroupName=name, InstanceRefreshIds=[refresh_id])["InstanceRefreshes"]
    # Right after StartInstanceRefresh the refresh may not be listed yet: keep polling.
    return dict(found[0]) if found else {"InstanceRefreshId": refresh_id, "Status": "not listed yet"}


def refresh(aws: Aws, name: str, image: str | None, *, user_data: bytes | None = None,
            policy: UpdatePolicy | None = None, reporter: Reporter = NULL) -> RefreshResult:
    """Roll the fleet onto ``image`` (None: keep it) and/or ``user_data``: a pinned new template
    version and an instance refresh, followed until it ends (succeeded, failed, cancelled or
    rolled back)."""
    policy = policy or UpdatePolicy()
    fleet = get(aws, name)
    image = image or fleet.image
    version = new_version(aws, fleet, image, user_data)
    desired = {"LaunchTemplate": {"LaunchTemplateId": fleet.template_id, "Version": version}}
    try:
        started = aws.call(f"starting an instance refresh of {name}", aws.client("autoscaling").start_instance_refresh,
                           AutoScalingGroupName=name, Strategy="Rolling", Preferences=_preferences(policy),
                           DesiredConfiguration=desired)
    except AwsError as exc:
        if exc.code == "InstanceRefreshInProgress":
            raise UsageError(f"fleet {name!r} already has an instance refresh in progress",
                             hint="wait for it, or cancel it in the console") from exc
        raise
    refresh_id = str(started["InstanceRefreshId"])
    reporter.step(f"instance refresh {refresh_id}: {fleet.image} (v{fleet.version}) -> {image} (v{version})")
    task = reporter.task(f"refreshing {name}", total=100, unit="%")
    seen = [0]

    def finished(state: dict[str, Any]) -> bool:
        percent = int(state.get("PercentageComplete") or 0)
        if percent > seen[0]:
            task.advance(percent - seen[0])
            seen[0] = percent
        return state.get("Status") in _FINAL

    final = aws.wait(f"instance refresh of {name}", lambda: _refresh_state(aws, name, refresh_id), finished,
                     timeout=refresh_deadline(aws, policy),
                     progress=lambda state: (state.get("Status"), state.get("PercentageComplete")),
                     hint="the refresh may still finish: see `lkcloud fleet status aws NAME`")
    task.done()
    outcome = str(final["Status"])
    message = f"{outcome}: {final.get('StatusReason', '')}".rstrip(": ")
    return RefreshResult("aws", name, outcome == "Successful", fleet.image, image, message, status(aws, name))


def delete(aws: Aws, name: str, reporter: Reporter = NULL) -> None:
    """Delete the Auto Scaling group (and its instances) and the fleet's launch template; returns
    once the group is gone (it is "Delete in progress" while its instances terminate)."""
    fleet = get(aws, name)
    reporter.step(f"deleting Auto Scaling group {name}")
    aws.call(f"deleting Auto Scaling group {name}", aws.client("autoscaling").delete_auto_scaling_group,
             AutoScalingGroupName=name, ForceDelete=True)
    aws.wait(f"fleet {name} to be deleted", lambda: _groups(aws, name), lambda groups: not groups,
             progress=lambda groups: len(groups[0].get("Instances", [])) if groups else 0)
    aws.call(f"deleting launch template {fleet.template_id}", aws.client("ec2").delete_launch_template,
             LaunchTemplateId=fleet.template_id)


def images_in_use(aws: Aws) -> set[str]:
    """Every image id any version of any launch template uses (what prune must keep)."""
    ec2 = aws.client("ec2")
    used: set[str] = set()
    for template in aws.pages("listing launch templates", ec2.describe_launch_templates, "LaunchTemplates"):
        for version in aws.pages("listing launch template versions", ec2.describe_launch_template_versions,
                                 "LaunchTemplateVersions", LaunchTemplateId=template["LaunchTemplateId"]):
            used.add(str(version["LaunchTemplateData"].get("ImageId", "")))
    used.discard("")
    return used
