"""Fleets as VM scale sets with rolling upgrades, judged healthy by their load balancer's HTTP
probe (:mod:`lkcloud_azure.lb`; the images have no agent, so no extension).

A refresh PATCHes the model (``storageProfile.imageReference``, ``userData`` and the rolling
policy); a Rolling scale set then upgrades itself batch by batch, which is followed through
``rollingUpgrades/latest`` to its end. Whether anything changed is decided from the model with
its user data, which a scale-set GET returns only with ``$expand=userData`` ("Virtual Machine
Scale Sets - Get", https://learn.microsoft.com/rest/api/compute/virtual-machine-scale-sets/get).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import FleetStatus, Health, HealthCheck, Instance, RefreshResult, UpdatePolicy
from lkcloud_azure import lb, network
from lkcloud_azure.clients import Api
from lkcloud_azure.image import doc, validate_name
from lkcloud_azure.instances import MachineOptions, encode_user_data, os_profile

RUNNING = "RollingForward"
FINISHED = frozenset({"Completed", "Faulted", "Cancelled"})


MAX_PAUSE = 3600  # pauseTimeBetweenBatches: at most an hour


@dataclass(frozen=True)
class Rolling:
    """``rollingUpgradePolicy``: percentages of the fleet, and a pause between batches."""

    max_batch: int = 20
    max_unhealthy: int = 20
    max_unhealthy_upgraded: int = 20
    pause_seconds: int = 0
    rollback: bool = True

    @classmethod
    def of(cls, policy: UpdatePolicy) -> Rolling:
        """The shared update policy in scale-set terms: ``--canary`` is the batch size (each batch
        followed by ``--pause``), ``--min-healthy`` bounds the unhealthy share."""
        canary = policy.canary_percent
        if canary is not None and not 5 <= canary <= 100:
            raise UsageError(f"--canary {canary}: Azure upgrades batches of 5 to 100 percent of a fleet")
        if not 0 <= policy.pause_seconds <= MAX_PAUSE:
            raise UsageError(f"--pause {policy.pause_seconds}: Azure pauses at most {MAX_PAUSE} s between batches")
        unhealthy = min(100, max(5, 100 - policy.min_healthy_percent))
        return cls(canary or 20, unhealthy, unhealthy, policy.pause_seconds, policy.auto_rollback)

    def policy(self) -> dict[str, Any]:
        return {"mode": "Rolling", "rollingUpgradePolicy": {
            "maxBatchInstancePercent": self.max_batch, "maxUnhealthyInstancePercent": self.max_unhealthy,
            "maxUnhealthyUpgradedInstancePercent": self.max_unhealthy_upgraded,
            "pauseTimeBetweenBatches": f"PT{self.pause_seconds}S", "prioritizeUnhealthyInstances": True,
            "rollbackFailedInstancesOnPolicyBreach": self.rollback}}


def scale_set_body(api: Api, name: str, size: int, machine: MachineOptions, *, subnet: str, rolling: Rolling,
                   network_of: lb.Fleet, nsg: str) -> dict[str, Any]:
    ip_config = {"name": "ipconfig1", "properties": {
        "subnet": {"id": subnet}, "loadBalancerBackendAddressPools": [{"id": network_of.pool_id}]}}
    profile: dict[str, Any] = {
        "storageProfile": {"imageReference": {"id": machine.image_id},
                           "osDisk": {"createOption": "FromImage", "caching": "ReadWrite",
                                      "managedDisk": {"storageAccountType": "Standard_LRS"}}},
        "osProfile": os_profile("computerNamePrefix", name[:9], machine.ssh_key),
        "networkProfile": {"healthProbe": {"id": network_of.probe_id}, "networkInterfaceConfigurations": [
            {"name": f"{name}-nic", "properties": {"primary": True, "networkSecurityGroup": {"id": nsg},
                                                   "ipConfigurations": [ip_config]}}]},
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
    }
    if machine.user_data:
        profile["userData"] = encode_user_data(machine.user_data)
    return {"location": api.config.location, "tags": network_of.tags,
            "sku": {"name": machine.vm_size, "tier": "Standard", "capacity": size},
            "properties": {"orchestrationMode": "Uniform", "overprovision": False,
                           "upgradePolicy": rolling.policy(), "virtualMachineProfile": profile}}


def _get(api: Api, name: str) -> dict[str, Any]:
    """The scale set, with its user data."""
    found = api.find(f"reading scale set {name}", api.clients.compute.virtual_machine_scale_sets.get,
                     api.group, name, expand="userData")
    if found is None:
        raise UsageError(f"fleet {name!r} not found in resource group {api.group}",
                         hint="create it with `lkcloud fleet create azure NAME --image IMAGE`")
    return doc(found)


def _image_of(scale_set: dict[str, Any]) -> str:
    profile = scale_set.get("properties", {}).get("virtualMachineProfile", {})
    return str(profile.get("storageProfile", {}).get("imageReference", {}).get("id", ""))


def _instance(vm: dict[str, Any], image: str, health: dict[str, Health]) -> Instance:
    props = vm.get("properties", {})
    instance_id = str(vm.get("instanceId") or vm.get("name"))
    return Instance(id=instance_id, image=image, state=str(props.get("provisioningState", "unknown")),
                    health=health.get(instance_id, Health.UNKNOWN),
                    version="latest" if props.get("latestModelApplied") else "previous")


def status(api: Api, name: str) -> FleetStatus:
    scale_set = _get(api, name)
    image = _image_of(scale_set)
    members = api.clients.compute.virtual_machine_scale_set_vms
    vms = api.call(f"listing the instances of {name}",
                   lambda: [doc(vm) for vm in members.list(api.group, name, expand="instanceView")])
    health = lb.health(lb.Fleet(api, name))
    return FleetStatus("azure", name, int(scale_set.get("sku", {}).get("capacity", 0)), image,
                       tuple(_instance(vm, image, health) for vm in vms),
                       str(scale_set.get("properties", {}).get("provisioningState", "unknown")))


def create(api: Api, name: str, size: int, machine: MachineOptions, *, rolling: Rolling, health: HealthCheck,
           ports: tuple[int, ...], reporter: Reporter = NULL) -> FleetStatus:
    """The fleet's network (:mod:`lkcloud_azure.lb`), then its scale set."""
    validate_name(name, "fleet name")
    subnet = network.subnet_id(api, reporter)
    network_of = lb.Fleet(api, name)
    nsg = lb.create(network_of, health, ports, reporter)
    body = scale_set_body(api, name, size, machine, subnet=subnet, rolling=rolling, network_of=network_of, nsg=nsg)
    reporter.step(f"creating scale set {name} ({size} x {machine.vm_size}, rolling upgrades)")
    scale_sets = api.clients.compute.virtual_machine_scale_sets
    api.operation(f"creating scale set {name}", scale_sets.begin_create_or_update, api.group, name, body)
    return status(api, name)


def scale(api: Api, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
    _get(api, name)
    reporter.step(f"scaling {name} to {size}")
    api.operation(f"scaling {name}", api.clients.compute.virtual_machine_scale_sets.begin_update,
                  api.group, name, {"sku": {"capacity": size}})
    return status(api, name)


def delete(api: Api, name: str, reporter: Reporter = NULL) -> None:
    """The scale set, then its load balancer, public IP and NSG."""
    _get(api, name)
    reporter.step(f"deleting scale set {name}")
    api.operation(f"deleting scale set {name}", api.clients.compute.virtual_machine_scale_sets.begin_delete,
                  api.group, name)
    lb.delete(lb.Fleet(api, name), reporter)


def _latest(api: Api, name: str) -> dict[str, Any] | None:
    found = api.find(f"reading the rolling upgrade of {name}",
                     api.clients.compute.virtual_machine_scale_set_rolling_upgrades.get_latest, api.group, name)
    return None if found is None else doc(found)


def _started(upgrade: dict[str, Any] | None) -> str:
    return str(((upgrade or {}).get("properties", {}).get("runningStatus") or {}).get("startTime", ""))


def _code(upgrade: dict[str, Any] | None) -> str:
    return str(((upgrade or {}).get("properties", {}).get("runningStatus") or {}).get("code", ""))


def follow(api: Api, name: str, before: str, reporter: Reporter = NULL) -> dict[str, Any]:
    """Poll the scale set's latest rolling upgrade (one that started after ``before``) to its end;
    the wait restarts whenever a batch advances."""

    def poll() -> dict[str, Any] | None:
        upgrade = _latest(api, name)
        if upgrade is None or _started(upgrade) == before:
            return None
        progress = upgrade.get("properties", {}).get("progress", {})
        reporter.step(f"{name}: {_code(upgrade) or RUNNING}: {progress.get('successfulInstanceCount', 0)} upgraded, "
                      f"{progress.get('inProgressInstanceCount', 0)} in progress, "
                      f"{progress.get('pendingInstanceCount', 0)} pending, "
                      f"{progress.get('failedInstanceCount', 0)} failed")
        return upgrade

    def marker(upgrade: dict[str, Any] | None) -> object:
        return None if upgrade is None else (_code(upgrade), str(upgrade.get("properties", {}).get("progress")))

    found = api.calls.wait(f"the rolling upgrade of {name}", poll, lambda u: _code(u) in FINISHED,
                           timeout=api.config.timing.operation_seconds, progress=marker,
                           hint=f"see it with `lkcloud fleet status azure {name}`")
    assert found is not None
    return found


def _set_model(api: Api, name: str, image_id: str, user_data: str | None, rolling: Rolling) -> None:
    """PATCH the model's image and (unless None) user data ("" clears it)."""
    patch: dict[str, Any] = {"storageProfile": {"imageReference": {"id": image_id}}}
    if user_data is not None:
        patch["userData"] = user_data
    api.operation(f"updating scale set {name}", api.clients.compute.virtual_machine_scale_sets.begin_update,
                  api.group, name, {"properties": {"upgradePolicy": rolling.policy(), "virtualMachineProfile": patch}})


def refresh(api: Api, name: str, image_id: str | None, user_data: bytes | None, *, rolling: Rolling,
            reporter: Reporter = NULL) -> RefreshResult:
    """Move the fleet onto a new image and/or user data, and follow the rolling upgrade. When the
    upgrade stops, the model goes back to what the old instances run."""
    scale_set = _get(api, name)
    old = _image_of(scale_set)
    new = image_id or old
    old_data = scale_set["properties"].get("virtualMachineProfile", {}).get("userData")
    new_data = encode_user_data(user_data) if user_data is not None else old_data
    if new == old and new_data == old_data:
        return RefreshResult("azure", name, True, old, new, "nothing to do: same image and user data",
                             status(api, name))
    before = _started(_latest(api, name))
    reporter.step(f"updating the model of {name}: image {new}")
    _set_model(api, name, new, new_data if new_data != old_data else None, rolling)
    upgrade = follow(api, name, before, reporter)
    props = upgrade.get("properties", {})
    code = _code(upgrade)
    error = props.get("error") or {}
    message = f"rolling upgrade {code}" + (f": {error.get('message')} ({error.get('code')})" if error else "")
    if code != "Completed":
        reporter.step(f"{name}: the upgrade stopped; the model goes back to {old}")
        _set_model(api, name, old, (old_data or "") if new_data != old_data else None, rolling)
    return RefreshResult("azure", name, code == "Completed", old, new, message, status(api, name))
