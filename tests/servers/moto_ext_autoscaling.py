"""Auto Scaling instance refresh, which moto lacks: Start/Describe/Cancel/RollbackInstanceRefresh.

A refresh advances at most one batch per DescribeInstanceRefreshes call (batch = the share of the
group MinHealthyPercentage allows to be replaced at once, never past the next checkpoint),
replacing instances with ones launched from the desired launch-template version, and on success
pins the group to that version (as AWS does with a DesiredConfiguration). An image tagged
``lkcloud-test:unhealthy=true`` makes the refresh fail once it is half done; with AutoRollback it
then rolls back to the old version. Instances report the launch-template version they were
launched from.

Time, switched on per test (``moto_ext_behaviour``): each batch waits InstanceWarmup
(``warmup_scale``), each checkpoint CheckpointDelay (``checkpoints``; 3600 s when only the
percentages are given), a new refresh is invisible for ``describe_lag``, and a deleted group stays
"Delete in progress" for ``delete_seconds``. A name in use is AlreadyExists; a Local Zone without
a subnet is refused.
"""

from __future__ import annotations

import math
from typing import Any

import moto_ext_behaviour as behaviour
from moto.autoscaling.models import FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto_ext_errors import fault

UNHEALTHY_TAG = "lkcloud-test:unhealthy"
_TERMINAL = {"Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed"}


def _instance_template(self: InstanceState) -> dict[str, Any] | None:
    group = self.auto_scaling_group
    if group is None or group.ec2_launch_template is None:
        return None
    version = getattr(self, "lk_version", None) or group.launch_template_version
    return {"LaunchTemplateId": group.ec2_launch_template.id,
            "LaunchTemplateName": group.ec2_launch_template.name, "Version": str(version)}


def _refreshes(backend: Any) -> dict[str, list[dict[str, Any]]]:
    if not hasattr(backend, "lk_refreshes"):
        backend.lk_refreshes = {}
    return backend.lk_refreshes  # type: ignore[no-any-return]


def _replace(group: FakeAutoScalingGroup, states: list[InstanceState], version: str) -> None:
    """Terminate ``states`` and launch as many from launch-template ``version``."""
    ids = [state.instance.id for state in states]
    if ids:
        group.autoscaling_backend.ec2_backend.terminate_instances(ids)
    group.instance_states = [state for state in group.instance_states if state.instance.id not in ids]
    pinned = group.launch_template_version
    group.launch_template_version = version
    before = {state.instance.id for state in group.instance_states}
    try:
        group.replace_autoscaling_group_instances(len(ids), group.get_propagated_tags())
    finally:
        group.launch_template_version = pinned
    for state in group.instance_states:
        if state.instance.id not in before:
            state.lk_version = version  # type: ignore[attr-defined]


def _unhealthy(group: FakeAutoScalingGroup, version: str) -> bool:
    template = group.ec2_launch_template
    assert template is not None
    image_id = template.get_version(version).image_id
    images = group.autoscaling_backend.ec2_backend.amis
    image = images.get(image_id)
    return image is not None and any(t["key"] == UNHEALTHY_TAG and t["value"] == "true" for t in image.get_tags())


def _old(group: FakeAutoScalingGroup, version: str) -> list[InstanceState]:
    return [s for s in group.instance_states if str(getattr(s, "lk_version", group.launch_template_version)) != version]


def _checkpoint(prefs: dict[str, Any], done: int, size: int) -> int | None:
    """The next checkpoint (as a number of new instances) not yet reached, when checkpoints are on."""
    if not behaviour.get("checkpoints"):
        return None
    for percent in sorted(int(p) for p in prefs.get("CheckpointPercentages") or ()):
        wanted = math.ceil(size * percent / 100)
        if wanted > done:
            return wanted
    return None


def _pause(refresh: dict[str, Any], prefs: dict[str, Any], percent: int) -> None:
    """Wait InstanceWarmup after a batch and CheckpointDelay at a checkpoint below 100%: "checkpoints
    ... are points in time where the instance refresh pauses"
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-adding-checkpoints-instance-refresh.html);
    CheckpointDelay "defaults to 3600" (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html)."""
    wait = float(prefs.get("InstanceWarmup") or 0) * float(behaviour.get("warmup_scale"))
    points = [int(p) for p in prefs.get("CheckpointPercentages") or ()]
    if behaviour.get("checkpoints") and percent in points and percent < 100:
        wait = max(wait, float(prefs.get("CheckpointDelay", 3600)))
        refresh["StatusReason"] = f"Waiting at the {percent}% checkpoint"
    refresh["lk_next_at"] = behaviour.now() + wait


def _advance(group: FakeAutoScalingGroup, refresh: dict[str, Any]) -> None:
    if refresh["Status"] in _TERMINAL or behaviour.now() < refresh.get("lk_next_at", 0):
        return
    prefs = refresh["Preferences"]
    version = refresh["lk_target"]
    if refresh["Status"] == "RollbackInProgress":
        _replace(group, _old(group, refresh["lk_previous"]), refresh["lk_previous"])
        refresh.update(Status="RollbackSuccessful", PercentageComplete=0, EndTime=utcnow())
        return
    size = max(1, len(group.instance_states))
    batch = max(1, math.floor(size * (100 - int(prefs.get("MinHealthyPercentage", 90))) / 100))
    stop = _checkpoint(prefs, size - len(_old(group, version)), size)
    if stop is not None:
        batch = max(1, min(batch, stop - (size - len(_old(group, version)))))
    _replace(group, _old(group, version)[:batch], version)
    remaining = len(_old(group, version))
    refresh.update(Status="InProgress", PercentageComplete=int(100 * (size - remaining) / size),
                   InstancesToUpdate=remaining, StatusReason="")
    if _unhealthy(group, version) and refresh["PercentageComplete"] >= 50:
        rollback = str(prefs.get("AutoRollback", False)).lower() == "true"
        reason = "instances launched from the new configuration failed health checks"
        refresh.update(Status="RollbackInProgress" if rollback else "Failed", StatusReason=reason)
        return
    if remaining == 0:
        group.launch_template_version = version
        group.provided_launch_template_version = version
        refresh.update(Status="Successful", PercentageComplete=100, EndTime=utcnow())
        return
    _pause(refresh, prefs, refresh["PercentageComplete"])


def start_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    name = self._get_param("AutoScalingGroupName")
    group = self.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        raise fault("autoscaling", "ValidationError", f"AutoScalingGroup name not found - {name}")
    history = _refreshes(self.autoscaling_backend).setdefault(name, [])
    if any(item["Status"] not in _TERMINAL for item in history):
        raise fault("autoscaling", "InstanceRefreshInProgress", "An Instance Refresh is already in progress")
    if group.ec2_launch_template is None:
        raise fault("autoscaling", "ValidationError", "instance refresh needs a launch template")
    desired = (self._get_param("DesiredConfiguration") or {}).get("LaunchTemplate") or {}
    version = str(desired.get("Version") or group.launch_template_version)
    if version.startswith("$") and str(self._get_param("Preferences", {}).get("AutoRollback")).lower() == "true":
        raise fault("autoscaling", "ValidationError", "AutoRollback needs an explicit launch template version")
    refresh_id = f"{len(history) + 1:08x}-lkcl-test-0000-{abs(hash(name)) % 10**12:012d}"
    history.append({"InstanceRefreshId": refresh_id, "AutoScalingGroupName": name, "Status": "Pending",
                    "PercentageComplete": 0, "StartTime": utcnow(), "Preferences": self._get_param("Preferences", {}),
                    "InstancesToUpdate": len(group.instance_states), "lk_target": version,
                    "lk_previous": str(group.launch_template_version),
                    "DesiredConfiguration": {"LaunchTemplate": {"LaunchTemplateId": group.ec2_launch_template.id,
                                                                "Version": version}}})
    behaviour.born(refresh_id)
    return ActionResult({"InstanceRefreshId": refresh_id})


def describe_instance_refreshes(self: AutoScalingResponse) -> ActionResult:
    name = self._get_param("AutoScalingGroupName")
    group = self.autoscaling_backend.autoscaling_groups.get(name)
    history = _refreshes(self.autoscaling_backend).get(name, [])
    wanted = set(self._get_param("InstanceRefreshIds", []))
    shown = []
    for refresh in reversed(history):
        if (wanted and refresh["InstanceRefreshId"] not in wanted) or behaviour.hidden(refresh["InstanceRefreshId"]):
            continue
        if group is not None:
            _advance(group, refresh)
        shown.append({k: v for k, v in refresh.items() if not k.startswith("lk_")})
    return ActionResult({"InstanceRefreshes": shown})


def cancel_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    history = _refreshes(self.autoscaling_backend).get(self._get_param("AutoScalingGroupName"), [])
    active = [item for item in history if item["Status"] not in _TERMINAL]
    if not active:
        raise fault("autoscaling", "ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found")
    active[0].update(Status="Cancelled", EndTime=utcnow())
    return ActionResult({"InstanceRefreshId": active[0]["InstanceRefreshId"]})


_original_create = AutoScalingResponse.create_auto_scaling_group
_original_describe = AutoScalingResponse.describe_auto_scaling_groups
_original_delete = AutoScalingResponse.delete_auto_scaling_group


def _purge(backend: Any) -> None:
    for name, group in list(backend.autoscaling_groups.items()):
        gone_at = getattr(group, "lk_gone_at", None)
        if gone_at is not None and behaviour.now() >= gone_at:
            backend.autoscaling_groups.pop(name, None)


def create_auto_scaling_group(self: AutoScalingResponse) -> ActionResult:
    """AlreadyExists for a name in use, also while that group is being deleted; a Local Zone has no
    default subnet (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html)."""
    _purge(self.autoscaling_backend)
    name = self._get_param("AutoScalingGroupName")
    if name in self.autoscaling_backend.autoscaling_groups:
        raise fault("autoscaling", "AlreadyExists", f"AutoScalingGroup by this name already exists - A group with"
                                                    f" the name {name} already exists")
    zones = self._get_param("AvailabilityZones", [])
    local = [zone for zone in zones if zone.count("-") > 2]
    if local and not self._get_param("VPCZoneIdentifier"):
        raise fault("autoscaling", "ValidationError", f"No default subnet for availability zone: '{local[0]}'.")
    behaviour.born(f"asg:{name}")
    return _original_create(self)


def describe_auto_scaling_groups(self: AutoScalingResponse) -> ActionResult:
    """A group just created may not be listed yet (``describe_lag``)."""
    _purge(self.autoscaling_backend)
    result = _original_describe(self)
    groups = result.result["AutoScalingGroups"]  # type: ignore[index]
    result.result["AutoScalingGroups"] = [g for g in groups if not behaviour.hidden(f"asg:{g.name}")]  # type: ignore[index]
    return result


def delete_auto_scaling_group(self: AutoScalingResponse) -> ActionResult:
    """With ``delete_seconds``, a deleted group is listed as "Delete in progress" for a while, its
    instances terminating (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-process-shutdown.html)."""
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    group = backend.autoscaling_groups.get(name)
    delay = float(behaviour.get("delete_seconds"))
    if group is None or delay <= 0 or getattr(group, "lk_gone_at", None) is not None:
        return _original_delete(self) if getattr(group, "lk_gone_at", None) is None else EmptyResult()
    backend.set_desired_capacity(name, 0)
    group.lk_gone_at = behaviour.now() + delay
    group.status = "Delete in progress"
    return EmptyResult()


def install() -> None:
    InstanceState.launch_template = property(_instance_template)  # type: ignore[assignment, method-assign]
    handlers = {
        "start_instance_refresh": start_instance_refresh,
        "describe_instance_refreshes": describe_instance_refreshes,
        "cancel_instance_refresh": cancel_instance_refresh,
        "create_auto_scaling_group": create_auto_scaling_group,
        "describe_auto_scaling_groups": describe_auto_scaling_groups,
        "delete_auto_scaling_group": delete_auto_scaling_group,
    }
    for name, handler in handlers.items():
        setattr(AutoScalingResponse, name, handler)
