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
from lkcloud.provider.types import FleetStatus, Health, HealthCheck, Instance
from lkcloud_gcp import image, network, operations
from lkcloud_gcp.calls import call, find, listing, request_id
from lkcloud_gcp.clients import Api
from lkcloud_gcp.instances import MachineOptions, properties
from lkcloud_gcp.operations import last

FLEET_LABEL = tags.label_key(tags.FLEET)
STATUS_HEALTH = {"RUNNING": Health.HEALTHY, "PROVISIONING": Health.STARTING, "STAGING": Health.STARTING}
CHECK_HEALTH = {"HEALTHY": Health.HEALTHY, "UNHEALTHY": Health.UNHEALTHY, "TIMEOUT": Health.UNHEALTHY,
                "DRAINING": Health.UNHEALTHY, "UNKNOWN": Health.STARTING}


def template_name(fleet: str, machine: MachineOptions) -> str:
    content = "|".join([machine.image_link, machine.machine_type, machine.network, str(machine.shielded),
                        str(machine.secure_boot), ",".join(machine.tags), (machine.user_data or b"").hex()])
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
                                                       request_id=request_id())
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


def members(api: Api, name: str) -> list[Any]:
    return listing(api, f"members of fleet {name}", api.clients.groups.list_managed_instances, project=api.project,
                   region=api.config.fleet_region, instance_group_manager=name)


def health_of(member: Any) -> Health:
    """What the health check says of an instance, else what its status says."""
    checks = [h.detailed_health_state for h in member.instance_health]
    if checks:
        return CHECK_HEALTH.get(checks[0], Health.UNKNOWN)
    return STATUS_HEALTH.get(member.instance_status, Health.UNKNOWN)


def wait_serving(api: Api, name: str, reporter: Reporter = NULL) -> None:
    """Wait until the group is stable and every instance healthy. The deadline is time without
    progress (more instances healthy, instances added or removed): the health window (the
    autohealing delay plus the probes that judge an instance) when the group has a health check,
    else the rollout budget. TimeoutExceededError when it passes."""
    timeout = network.health_window(api, read_group(api, name)) or api.config.budgets.rollout
    seen: list[tuple[int, int, bool]] = []

    def fetch() -> tuple[bool, list[Any]]:
        return settled(read_group(api, name)), members(api, name)

    def done(found: tuple[bool, list[Any]]) -> bool:
        return found[0] and all(health_of(m) is Health.HEALTHY for m in found[1])

    def progress(found: tuple[bool, list[Any]]) -> tuple[int, int, bool]:
        marker = (sum(health_of(m) is Health.HEALTHY for m in found[1]), len(found[1]), found[0])
        if not seen or seen[-1] != marker:
            reporter.step(f"fleet {name}: {marker[0]}/{marker[1]} instances healthy")
            seen.append(marker)
        return marker

    api.calls.wait(f"fleet {name} to be stable and healthy", fetch, done,
                   timeout=min(timeout, api.config.budgets.rollout), progress=progress,
                   hint=f"inspect it with `lkcloud fleet status gcp {name}`")


def status(api: Api, name: str) -> FleetStatus:
    group = get_group(api, name)
    image_link = source_image(read_template(api, current_template(group)))
    instances = tuple(
        Instance(id=last(m.instance), image=image_link, state=m.instance_status or "UNKNOWN", health=health_of(m),
                 version=last(m.version.instance_template) if m.version.instance_template else None)
        for m in members(api, name)
    )
    state = "stable" if group.status.is_stable else "updating"
    return FleetStatus("gcp", name, int(group.target_size), image_link, instances, state)


def create(api: Api, name: str, size: int, machine: MachineOptions, *, health: HealthCheck,
           reporter: Reporter = NULL) -> FleetStatus:
    """A health check and its firewall rule, a template, and a regional group of ``size``
    instances that autoheals on that check; waits until every instance is healthy."""
    image.validate_name(name, "fleet name")
    region = api.config.fleet_region
    if find(api, f"fleet {name}", api.clients.groups.get, project=api.project, region=region,
            instance_group_manager=name) is not None:
        raise UsageError(f"fleet {name} already exists in {region}", hint="use `fleet refresh` or `fleet scale`")
    check = network.ensure(api, name, health, reporter)
    link = ensure_template(api, name, replace(machine, tags=(network.fleet_tag(name),)), reporter)
    group = compute_v1.InstanceGroupManager(
        name=name, base_instance_name=name[:54], instance_template=link, target_size=size,
        versions=[compute_v1.InstanceGroupManagerVersion(name="current", instance_template=link)],
        auto_healing_policies=[network.autohealing(check, health)])
    request = compute_v1.InsertRegionInstanceGroupManagerRequest(
        project=api.project, region=region, instance_group_manager_resource=group,
        request_id=request_id())
    reporter.step(f"creating fleet {name} in {region}")
    op = call(api, f"creating fleet {name}", api.clients.groups.insert_unary, request=request)
    operations.wait(api, op, f"fleet {name}", reporter)
    wait_serving(api, name, reporter)
    return status(api, name)


def scale(api: Api, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
    get_group(api, name)
    op = call(api, f"resizing fleet {name}", api.clients.groups.resize_unary, project=api.project,
              region=api.config.fleet_region, instance_group_manager=name, size=size)
    operations.wait(api, op, f"resizing fleet {name}", reporter)
    wait_serving(api, name, reporter)
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
    """Delete the group (and so its instances), then the fleet's templates, health check and
    firewall rule."""
    get_group(api, name)
    op = find(api, f"deleting fleet {name}", api.clients.groups.delete_unary, project=api.project,
              region=api.config.fleet_region, instance_group_manager=name)
    if op is not None:
        operations.wait(api, op, f"deleting fleet {name}", reporter)
    delete_templates(api, name, keep=set(), reporter=reporter)
    network.delete(api, name, reporter)
