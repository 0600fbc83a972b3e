"""Refreshing a fleet: a new template (new image and/or user data) rolled out by patching the
group's versions with a proactive REPLACE update policy, as a canary first when asked. A rollout
that does not settle is rolled back (unless the policy says not to) and reported as failed, with
the old instances serving: refresh never raises for that."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from google.cloud import compute_v1

from lkcloud.errors import TimeoutExceededError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import RefreshResult, UpdatePolicy
from lkcloud_gcp import fleet, image, operations
from lkcloud_gcp.calls import call, request_id
from lkcloud_gcp.clients import Api
from lkcloud_gcp.instances import USER_DATA_KEY, MachineOptions
from lkcloud_gcp.operations import OperationFailedError, last

Versions = list[Any]
DEFAULT_ZONES = 3


@dataclass(frozen=True)
class Change:
    """What a refresh changes; None keeps what the current template has."""

    image: str | None = None
    user_data: bytes | None = None
    machine_type: str | None = None


def user_data_of(template: Any) -> bytes | None:
    found = [i.value for i in template.properties.metadata.items if i.key == USER_DATA_KEY]
    return found[0].encode() if found else None


def machine_for(api: Api, old: Any, change: Change) -> MachineOptions:
    """The old template's machine with the change applied."""
    props = old.properties
    return MachineOptions(
        image_link=str(image.resolve(api, change.image).self_link) if change.image else fleet.source_image(old),
        machine_type=change.machine_type or str(props.machine_type),
        user_data=change.user_data if change.user_data is not None else user_data_of(old),
        network=str(props.network_interfaces[0].network) if props.network_interfaces else api.config.network,
        shielded=bool(props.shielded_instance_config.enable_vtpm),
        secure_boot=bool(props.shielded_instance_config.enable_secure_boot), tags=tuple(props.tags.items))


def zone_count(group: Any) -> int:
    """The zones a regional group spans (GCE picks three when none were named)."""
    return len(group.distribution_policy.zones) or DEFAULT_ZONES


def surge_and_unavailable(policy: UpdatePolicy, zones: int) -> tuple[int, int]:
    """The policy's max_surge and max_unavailable as a regional group takes them: each 0 or at
    least the number of zones, and not both 0."""

    def regional(value: int) -> int:
        return 0 if value <= 0 else max(value, zones)

    surge, unavailable = regional(policy.max_surge), regional(policy.max_unavailable)
    return (zones, 0) if surge == unavailable == 0 else (surge, unavailable)


def update_policy(policy: UpdatePolicy, zones: int) -> Any:
    surge, unavailable = surge_and_unavailable(policy, zones)
    return compute_v1.InstanceGroupManagerUpdatePolicy(
        type_="PROACTIVE", minimal_action="REPLACE", replacement_method="SUBSTITUTE",
        max_surge=compute_v1.FixedOrPercent(fixed=surge), max_unavailable=compute_v1.FixedOrPercent(fixed=unavailable))


def stages(old: str, new: str, canary_percent: int | None) -> list[Versions]:
    """The versions each step of the rollout sets: a canary at a percent first, when asked."""
    version = compute_v1.InstanceGroupManagerVersion
    full = [version(name="current", instance_template=new)]
    if not canary_percent:
        return [full]
    canary = version(name="canary", instance_template=new,
                     target_size=compute_v1.FixedOrPercent(percent=canary_percent))
    return [[version(name="stable", instance_template=old), canary], full]


def _patch(api: Api, name: str, versions: Versions, policy: UpdatePolicy, reporter: Reporter) -> None:
    zones = zone_count(fleet.read_group(api, name))
    patch = compute_v1.InstanceGroupManager(versions=versions, update_policy=update_policy(policy, zones))
    request = compute_v1.PatchRegionInstanceGroupManagerRequest(
        project=api.project, region=api.config.fleet_region, instance_group_manager=name,
        instance_group_manager_resource=patch, request_id=request_id())
    op = call(api, f"updating fleet {name}", api.clients.groups.patch_unary, request=request)
    operations.wait(api, op, f"updating fleet {name}", reporter)


def _stage(api: Api, name: str, versions: Versions, policy: UpdatePolicy, reporter: Reporter) -> str | None:
    """Set ``versions`` and wait for the group to settle: None when it did, else why not."""
    try:
        _patch(api, name, versions, policy, reporter)
        fleet.wait_serving(api, name, reporter)
    except (TimeoutExceededError, OperationFailedError) as exc:
        return exc.message
    return None


def _stopped(api: Api, name: str, old_link: str, policy: UpdatePolicy, why: str, *, reporter: Reporter) -> str:
    """Roll back to ``old_link`` (as the policy allows); what happened, in words."""
    if not policy.auto_rollback:
        return f"{why}; left as it is (no auto_rollback)"
    reporter.step(f"fleet {name}: rolling back to {last(old_link)}")
    version = compute_v1.InstanceGroupManagerVersion(name="current", instance_template=old_link)
    undone = _stage(api, name, [version], policy, reporter)
    return f"{why}; " + (f"rolling back did not settle: {undone}" if undone else f"rolled back to {last(old_link)}")


def refresh(api: Api, name: str, change: Change, policy: UpdatePolicy, reporter: Reporter = NULL) -> RefreshResult:
    """Roll the fleet onto a template with ``change``; ``succeeded`` False when it stopped."""
    group = fleet.get_group(api, name)
    old_link = fleet.current_template(group)
    old = fleet.read_template(api, fleet.newest_template(group))
    machine = machine_for(api, old, change)
    old_image, new_image = fleet.source_image(old), machine.image_link
    new_link = fleet.ensure_template(api, name, machine, reporter)
    if last(new_link) == last(old_link) and len(group.versions) == 1:
        return RefreshResult("gcp", name, True, old_image, new_image, message="nothing to do",
                             status=fleet.status(api, name))
    steps = stages(old_link, new_link, policy.canary_percent)
    for number, versions in enumerate(steps, 1):
        reporter.step(f"fleet {name}: rolling onto {last(new_link)}"
                      + (f" (canary, {policy.canary_percent}%)" if number < len(steps) else ""))
        why = _stage(api, name, versions, policy, reporter)
        if why is not None:
            message = _stopped(api, name, old_link, policy, why, reporter=reporter)
            return RefreshResult("gcp", name, False, old_image, new_image, message=message,
                                 status=fleet.status(api, name))
        if number < len(steps) and policy.pause_seconds:
            reporter.step(f"fleet {name}: canary checkpoint, pausing {policy.pause_seconds} s")
            time.sleep(policy.pause_seconds)  # the policy's pause at the checkpoint, not a poll
    fleet.delete_templates(api, name, keep={last(new_link)}, reporter=reporter)
    return RefreshResult("gcp", name, True, old_image, new_image, message=f"every instance on {last(new_link)}",
                         status=fleet.status(api, name))
