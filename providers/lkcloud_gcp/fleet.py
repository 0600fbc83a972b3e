"""Fleets: an instance template plus a regional managed instance group.

Templates are immutable, so every change of image, user data or machine type is a new template,
named from its content (a rerun finds it instead of making another). A refresh patches the
group's versions with a proactive REPLACE update policy, optionally as a canary, and waits for
the group to be stable.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from typing import Any

from google.cloud import compute_v1
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_random_exponential,
)

from lkcloud.errors import TimeoutExceededError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import FleetStatus, Health, Instance, RefreshResult
from lkcloud_gcp import image, operations
from lkcloud_gcp.calls import TRANSIENT, call, find, listing
from lkcloud_gcp.clients import Api
from lkcloud_gcp.instances import USER_DATA_KEY, MachineOptions, properties

FLEET_LABEL = "lkcloud-fleet"
MEMBER_HEALTH = {"RUNNING": Health.HEALTHY, "PROVISIONING": Health.STARTING, "STAGING": Health.STARTING}


@dataclass(frozen=True)
class Rollout:
    """How a refresh replaces instances (regional groups want 0 or at least one per zone)."""

    max_surge: int = 3
    max_unavailable: int = 0
    canary: int | None = None  # instances on the new template; the rest stay on the old one
    canary_percent: int | None = None
    min_ready: int = 0  # seconds the group must stay stable (v1 has no updatePolicy.minReadySec)


def _last(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def template_name(fleet: str, machine: MachineOptions) -> str:
    content = "|".join([machine.image_link, machine.machine_type, machine.network, str(machine.shielded),
                        str(machine.secure_boot), (machine.user_data or b"").hex()])
    return f"{fleet[:50]}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"


def ensure_template(api: Api, fleet: str, machine: MachineOptions, reporter: Reporter = NULL) -> str:
    """The self link of the template for ``machine``, created unless it exists."""
    timing, name = api.config.timing, template_name(fleet, machine)
    found = find(timing, f"template {name}", api.clients.templates.get, project=api.project, instance_template=name)
    if found is not None:
        return str(found.self_link)
    labelled = replace(machine, labels=(*machine.labels, (FLEET_LABEL, fleet)))
    body = compute_v1.InstanceTemplate(name=name, description=f"lkcloud fleet {fleet}",
                                       properties=compute_v1.InstanceProperties(**properties(labelled)))
    request = compute_v1.InsertInstanceTemplateRequest(project=api.project, instance_template_resource=body,
                                                       request_id=image.request_id(name, fleet))
    reporter.step(f"creating instance template {name}")
    op = call(timing, f"creating template {name}", api.clients.templates.insert_unary, request=request)
    operations.wait(api, op, f"template {name}", reporter)
    made = call(timing, f"template {name}", api.clients.templates.get, project=api.project, instance_template=name)
    return str(made.self_link)


def _group(api: Api, name: str) -> Any:
    found = find(api.config.timing, f"fleet {name}", api.clients.groups.get, project=api.project,
                 region=api.config.fleet_region, instance_group_manager=name)
    if found is None:
        raise UsageError(f"no fleet named {name} in {api.config.fleet_region}",
                         hint="create it with `lkcloud fleet create gcp NAME --image IMAGE`")
    return found


def _current_template(group: Any) -> str:
    versions = [v for v in group.versions if not v.target_size.fixed and not v.target_size.percent]
    return str((versions or list(group.versions) or [group])[-1].instance_template)


def _newest_template(group: Any) -> str:
    """The template of the latest version: a canary's, if one is rolling, else the current one."""
    canaries = [v for v in group.versions if v.target_size.fixed or v.target_size.percent]
    return str(canaries[-1].instance_template) if canaries else _current_template(group)


def _template_image(api: Api, link: str) -> Any:
    return call(api.config.timing, f"template {_last(link)}", api.clients.templates.get,
                project=api.project, instance_template=_last(link))


@dataclass
class _Watch:
    """What a wait for stability has seen so far."""

    reported: str = ""
    stable_since: float | None = None


def _ready(api: Api, name: str, rollout: Rollout, watch: _Watch, reporter: Reporter) -> bool:
    group = call(api.config.timing, f"fleet {name}", api.clients.groups.get, project=api.project,
                 region=api.config.fleet_region, instance_group_manager=name)
    settled = f"{group.current_actions.none}/{group.target_size}"
    if settled != watch.reported:
        reporter.step(f"fleet {name}: {settled} instances settled")
        watch.reported = settled
    if not (group.status.is_stable and group.status.version_target.is_reached):
        watch.stable_since = None
        return False
    if watch.stable_since is None:
        watch.stable_since = time.monotonic()
    return time.monotonic() - watch.stable_since >= rollout.min_ready


def wait_stable(api: Api, name: str, rollout: Rollout = Rollout(), reporter: Reporter = NULL) -> None:
    """Wait until the group is stable (and has stayed so for ``min_ready`` seconds)."""
    timing = api.config.timing
    policy = Retrying(retry=retry_if_result(lambda ready: not ready) | retry_if_exception_type(TRANSIENT),
                      stop=stop_after_delay(timing.stable_deadline),
                      wait=wait_random_exponential(multiplier=timing.poll_min, max=timing.poll_max))
    try:
        policy(_ready, api, name, rollout, _Watch(), reporter)
    except RetryError as exc:
        raise TimeoutExceededError(f"fleet {name} not stable after {timing.stable_deadline:g} s",
                                   hint=f"inspect it with `lkcloud fleet status gcp {name}`") from exc


def status(api: Api, name: str) -> FleetStatus:
    group = _group(api, name)
    members = listing(api.config.timing, f"members of fleet {name}", api.clients.groups.list_managed_instances,
                   project=api.project, region=api.config.fleet_region, instance_group_manager=name)
    template = _template_image(api, _current_template(group))
    image_link = str(template.properties.disks[0].initialize_params.source_image)
    instances = tuple(
        Instance(id=_last(m.instance), image=image_link, state=m.instance_status or "UNKNOWN",
                 health=MEMBER_HEALTH.get(m.instance_status, Health.UNKNOWN),
                 version=_last(m.version.instance_template) if m.version.instance_template else None)
        for m in members
    )
    state = "stable" if group.status.is_stable else "updating"
    return FleetStatus("gcp", name, int(group.target_size), image_link, instances, state)


def create(api: Api, name: str, size: int, machine: MachineOptions, reporter: Reporter = NULL) -> FleetStatus:
    """A template and a regional group of ``size`` instances; waits until it is stable."""
    image.validate_name(name, "fleet name")
    timing, region = api.config.timing, api.config.fleet_region
    if find(timing, f"fleet {name}", api.clients.groups.get, project=api.project, region=region,
            instance_group_manager=name) is not None:
        raise UsageError(f"fleet {name} already exists in {region}", hint="use `fleet refresh` or `fleet scale`")
    link = ensure_template(api, name, machine, reporter)
    group = compute_v1.InstanceGroupManager(
        name=name, base_instance_name=name[:54], instance_template=link, target_size=size,
        versions=[compute_v1.InstanceGroupManagerVersion(name="current", instance_template=link)])
    request = compute_v1.InsertRegionInstanceGroupManagerRequest(
        project=api.project, region=region, instance_group_manager_resource=group,
        request_id=image.request_id(name, link))
    reporter.step(f"creating fleet {name} in {region}")
    op = call(timing, f"creating fleet {name}", api.clients.groups.insert_unary, request=request)
    operations.wait(api, op, f"fleet {name}", reporter)
    wait_stable(api, name, reporter=reporter)
    return status(api, name)


def scale(api: Api, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
    _group(api, name)
    op = call(api.config.timing, f"resizing fleet {name}", api.clients.groups.resize_unary, project=api.project,
              region=api.config.fleet_region, instance_group_manager=name, size=size)
    operations.wait(api, op, f"resizing fleet {name}", reporter)
    wait_stable(api, name, reporter=reporter)
    return status(api, name)


def _user_data(template: Any) -> bytes | None:
    found = [i.value for i in template.properties.metadata.items if i.key == USER_DATA_KEY]
    return found[0].encode() if found else None


def _versions(old: str, new: str, rollout: Rollout) -> list[Any]:
    version = compute_v1.InstanceGroupManagerVersion
    if rollout.canary is None and rollout.canary_percent is None:
        return [version(name="current", instance_template=new)]
    size = (compute_v1.FixedOrPercent(fixed=rollout.canary) if rollout.canary is not None
            else compute_v1.FixedOrPercent(percent=rollout.canary_percent))
    return [version(name="stable", instance_template=old), version(name="canary", instance_template=new,
                                                                  target_size=size)]


def _policy(rollout: Rollout) -> Any:
    return compute_v1.InstanceGroupManagerUpdatePolicy(
        type_="PROACTIVE", minimal_action="REPLACE", replacement_method="SUBSTITUTE",
        max_surge=compute_v1.FixedOrPercent(fixed=rollout.max_surge),
        max_unavailable=compute_v1.FixedOrPercent(fixed=rollout.max_unavailable))


@dataclass(frozen=True)
class Change:
    """What a refresh changes; None keeps what the current template has."""

    image: str | None = None
    user_data: bytes | None = None
    machine_type: str | None = None


def refresh(api: Api, name: str, change: Change, rollout: Rollout = Rollout(),
            reporter: Reporter = NULL) -> RefreshResult:
    """Roll the fleet onto a new template (new image and/or user data), then wait for it."""
    group = _group(api, name)
    old_link = _current_template(group)
    old = _template_image(api, _newest_template(group))  # what the change starts from
    old_image = str(old.properties.disks[0].initialize_params.source_image)
    new_image = str(image.resolve(api, change.image).self_link) if change.image else old_image
    machine = MachineOptions(
        image_link=new_image, machine_type=change.machine_type or old.properties.machine_type,
        user_data=change.user_data if change.user_data is not None else _user_data(old),
        network=api.config.network)
    new_link = ensure_template(api, name, machine, reporter)
    patch = compute_v1.InstanceGroupManager(versions=_versions(old_link, new_link, rollout),
                                            update_policy=_policy(rollout))
    request = compute_v1.PatchRegionInstanceGroupManagerRequest(
        project=api.project, region=api.config.fleet_region, instance_group_manager=name,
        instance_group_manager_resource=patch,
        # the same patch of the same group state is the same request (fingerprint changes with every update)
        request_id=image.request_id(name, group.fingerprint + compute_v1.InstanceGroupManager.to_json(patch)))
    reporter.step(f"rolling fleet {name} onto {_last(new_link)}")
    op = call(api.config.timing, f"updating fleet {name}", api.clients.groups.patch_unary, request=request)
    operations.wait(api, op, f"updating fleet {name}", reporter)
    wait_stable(api, name, rollout, reporter)
    if rollout.canary is None and rollout.canary_percent is None:
        _delete_templates(api, name, keep={_last(new_link)}, reporter=reporter)
    return RefreshResult("gcp", name, True, old_image, new_image, status=status(api, name))


def _fleet_templates(api: Api, name: str) -> list[Any]:
    pager = listing(api.config.timing, "listing instance templates", api.clients.templates.list, project=api.project)
    return [t for t in pager if t.properties.labels.get(FLEET_LABEL) == name]


def _delete_templates(api: Api, name: str, keep: set[str], reporter: Reporter) -> None:
    for template in _fleet_templates(api, name):
        if template.name in keep:
            continue
        op = find(api.config.timing, f"deleting template {template.name}", api.clients.templates.delete_unary,
                  project=api.project, instance_template=template.name)
        if op is not None:
            operations.wait(api, op, f"deleting template {template.name}", reporter)


def delete(api: Api, name: str, reporter: Reporter = NULL) -> None:
    """Delete the group (and so its instances), then the fleet's templates."""
    _group(api, name)
    op = find(api.config.timing, f"deleting fleet {name}", api.clients.groups.delete_unary, project=api.project,
              region=api.config.fleet_region, instance_group_manager=name)
    if op is not None:
        operations.wait(api, op, f"deleting fleet {name}", reporter)
    _delete_templates(api, name, keep=set(), reporter=reporter)
