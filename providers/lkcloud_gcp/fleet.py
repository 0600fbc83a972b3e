"""Fleets: an instance template plus a regional managed instance group.

Templates are immutable, so every change of image, user data or machine type is a new template,
named from its content (a rerun finds it instead of making another). Refreshes are in
:mod:`lkcloud_gcp.rollout`.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from google.cloud import compute_v1

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import tags
from lkcloud.provider.types import FleetStatus, Health, Instance
from lkcloud_gcp import image, operations
from lkcloud_gcp.calls import call, find, listing
from lkcloud_gcp.clients import Api
from lkcloud_gcp.instances import MachineOptions, properties
from lkcloud_gcp.operations import last

FLEET_LABEL = tags.label_key(tags.FLEET)
MEMBER_HEALTH = {"RUNNING": Health.HEALTHY, "PROVISIONING": Health.STARTING, "STAGING": Health.STARTING}


def template_name(fleet: str, machine: MachineOptions) -> str:
    content = "|".join([machine.image_link, machine.machine_type, machine.network, str(machine.shielded),
                        str(machine.secure_boot), (machine.user_data or b"").hex()])
    return f"{fleet[:50]}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"


def ensure_template(api: Api, fleet: str, machine: MachineOptions, reporter: Reporter = NULL) -> str:
    """The self link of the template for ``machine``, created unless it exists."""
    name = template_name(fleet, machine)
    found = find(api, f"template {name}", api.clients.templates.get, project=api.project, instance_template=name)
    if found is not None:
        return str(found.self_link)
    labelled = replace(machine, labels=(*machine.labels, (FLEET_LABEL, tags.label_value(fleet))))
    body = compute_v1.InstanceTemplate(name=name, description=f"lkcloud fleet {fleet}",
                                       properties=compute_v1.InstanceProperties(**properties(labelled)))
    request = compute_v1.InsertInstanceTemplateRequest(project=api.project, instance_template_resource=body,
                                                       request_id=image.request_id(name, fleet))
    reporter.step(f"creating instance template {name}")
    op = call(api, f"creating template {name}", api.clients.templates.insert_unary, request=request)
    operations.wait(api, op, f"template {name}", reporter)
    made = call(api, f"template {name}", api.clients.templates.get, project=api.project, instance_template=name)
    return str(made.self_link)


def get_group(api: Api, name: str) -> Any:
    """The fleet's group; UsageError when there is none."""
    found = find(api, f"fleet {name}", api.clients.groups.get, project=api.project,
                 region=api.config.fleet_region, instance_group_manager=name)
    if found is None:
        raise UsageError(f"no fleet named {name} in {api.config.fleet_region}",
                         hint="create it with `lkcloud fleet create gcp NAME --image IMAGE`")
    return found


def read_group(api: Api, name: str) -> Any:
    return call(api, f"fleet {name}", api.clients.groups.get, project=api.project, region=api.config.fleet_region,
                instance_group_manager=name)


def current_template(group: Any) -> str:
    """The template of the group's main version (the one without a target size)."""
    versions = [v for v in group.versions if not v.target_size.fixed and not v.target_size.percent]
    return str((versions or list(group.versions) or [group])[-1].instance_template)


def newest_template(group: Any) -> str:
    """The template of the latest version: a canary's, if one is rolling, else the current one."""
    canaries = [v for v in group.versions if v.target_size.fixed or v.target_size.percent]
    return str(canaries[-1].instance_template) if canaries else current_template(group)


def read_template(api: Api, link: str) -> Any:
    return call(api, f"template {last(link)}", api.clients.templates.get, project=api.project,
                instance_template=last(link))


def source_image(template: Any) -> str:
    return str(template.properties.disks[0].initialize_params.source_image)


def settled(group: Any) -> bool:
    return bool(group.status.is_stable and group.status.version_target.is_reached)


def wait_stable(api: Api, name: str, reporter: Reporter = NULL) -> Any:
    """Wait until the group is stable; TimeoutExceededError when it goes without progress for
    the rollout budget."""

    def progress(group: Any) -> tuple[int, int, bool]:
        return int(group.current_actions.none), int(group.target_size), settled(group)

    seen: list[tuple[int, int, bool]] = []

    def report(group: Any) -> tuple[int, int, bool]:
        marker = progress(group)
        if not seen or seen[-1] != marker:
            reporter.step(f"fleet {name}: {marker[0]}/{marker[1]} instances settled")
            seen.append(marker)
        return marker

    return api.calls.wait(f"fleet {name} to be stable", lambda: read_group(api, name), settled,
                          timeout=api.config.budgets.rollout, progress=report,
                          hint=f"inspect it with `lkcloud fleet status gcp {name}`")


def status(api: Api, name: str) -> FleetStatus:
    group = get_group(api, name)
    members = listing(api, f"members of fleet {name}", api.clients.groups.list_managed_instances,
                      project=api.project, region=api.config.fleet_region, instance_group_manager=name)
    image_link = source_image(read_template(api, current_template(group)))
    instances = tuple(
        Instance(id=last(m.instance), image=image_link, state=m.instance_status or "UNKNOWN",
                 health=MEMBER_HEALTH.get(m.instance_status, Health.UNKNOWN),
                 version=last(m.version.instance_template) if m.version.instance_template else None)
        for m in members
    )
    state = "stable" if group.status.is_stable else "updating"
    return FleetStatus("gcp", name, int(group.target_size), image_link, instances, state)


def create(api: Api, name: str, size: int, machine: MachineOptions, reporter: Reporter = NULL) -> FleetStatus:
    """A template and a regional group of ``size`` instances; waits until it is stable."""
    image.validate_name(name, "fleet name")
    region = api.config.fleet_region
    if find(api, f"fleet {name}", api.clients.groups.get, project=api.project, region=region,
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
    op = call(api, f"creating fleet {name}", api.clients.groups.insert_unary, request=request)
    operations.wait(api, op, f"fleet {name}", reporter)
    wait_stable(api, name, reporter)
    return status(api, name)


def scale(api: Api, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
    get_group(api, name)
    op = call(api, f"resizing fleet {name}", api.clients.groups.resize_unary, project=api.project,
              region=api.config.fleet_region, instance_group_manager=name, size=size)
    operations.wait(api, op, f"resizing fleet {name}", reporter)
    wait_stable(api, name, reporter)
    return status(api, name)


def fleet_templates(api: Api, name: str) -> list[Any]:
    found = listing(api, "listing instance templates", api.clients.templates.list, project=api.project)
    return [t for t in found if t.properties.labels.get(FLEET_LABEL) == tags.label_value(name)]


def delete_templates(api: Api, name: str, keep: set[str], reporter: Reporter = NULL) -> None:
    for template in fleet_templates(api, name):
        if template.name in keep:
            continue
        op = find(api, f"deleting template {template.name}", api.clients.templates.delete_unary,
                  project=api.project, instance_template=template.name)
        if op is not None:
            operations.wait(api, op, f"deleting template {template.name}", reporter)


def delete(api: Api, name: str, reporter: Reporter = NULL) -> None:
    """Delete the group (and so its instances), then the fleet's templates."""
    get_group(api, name)
    op = find(api, f"deleting fleet {name}", api.clients.groups.delete_unary, project=api.project,
              region=api.config.fleet_region, instance_group_manager=name)
    if op is not None:
        operations.wait(api, op, f"deleting fleet {name}", reporter)
    delete_templates(api, name, keep=set(), reporter=reporter)
