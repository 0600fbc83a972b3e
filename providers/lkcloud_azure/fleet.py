"""Fleets as VM scale sets with rolling upgrades, kept healthy by the Application Health
extension (an HTTP probe, /healthz on port 8080 by default).

A refresh PATCHes the model (``storageProfile.imageReference``, ``userData`` and the rolling
policy); a Rolling scale set then upgrades itself batch by batch, which is followed through
``rollingUpgrades/latest`` to its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from lkcloud.errors import TimeoutExceededError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import FleetStatus, Health, Instance, RefreshResult
from lkcloud_azure import network
from lkcloud_azure.calls import call, find, wait
from lkcloud_azure.clients import Api
from lkcloud_azure.image import MANAGED, MANAGED_TAG, doc, validate_name
from lkcloud_azure.instances import MachineOptions, encode_user_data, os_profile

RUNNING = "RollingForward"
FINISHED = frozenset({"Completed", "Faulted", "Cancelled"})
HEALTH = {"HealthState/healthy": Health.HEALTHY, "HealthState/unhealthy": Health.UNHEALTHY,
          "HealthState/initializing": Health.STARTING}


@dataclass(frozen=True)
class Rolling:
    """``rollingUpgradePolicy``: percentages of the fleet, and a pause between batches."""

    max_batch: int = 20
    max_unhealthy: int = 20
    max_unhealthy_upgraded: int = 20
    pause_seconds: int = 0

    def policy(self) -> dict[str, Any]:
        for label, value in (("--max-batch", self.max_batch), ("--max-unhealthy", self.max_unhealthy),
                             ("--max-unhealthy-upgraded", self.max_unhealthy_upgraded)):
            if not 5 <= value <= 100:
                raise UsageError(f"{label} {value}: Azure takes 5 to 100 percent")
        return {"mode": "Rolling", "rollingUpgradePolicy": {
            "maxBatchInstancePercent": self.max_batch, "maxUnhealthyInstancePercent": self.max_unhealthy,
            "maxUnhealthyUpgradedInstancePercent": self.max_unhealthy_upgraded,
            "pauseTimeBetweenBatches": f"PT{self.pause_seconds}S", "prioritizeUnhealthyInstances": True}}


def health_extension(api: Api) -> dict[str, Any]:
    probe = api.config.health
    return {"name": "HealthExtension", "properties": {
        "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux", "typeHandlerVersion": "1.0",
        "autoUpgradeMinorVersion": True,
        "settings": {"protocol": probe.protocol, "port": probe.port, "requestPath": probe.path}}}


def scale_set_body(api: Api, name: str, size: int, machine: MachineOptions, *, subnet: str,
                   rolling: Rolling) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "storageProfile": {"imageReference": {"id": machine.image_id},
                           "osDisk": {"createOption": "FromImage", "caching": "ReadWrite",
                                      "managedDisk": {"storageAccountType": "Standard_LRS"}}},
        "osProfile": os_profile("computerNamePrefix", name[:9], machine.ssh_key),
        "networkProfile": {"networkInterfaceConfigurations": [{"name": f"{name}-nic", "properties": {
            "primary": True, "ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": subnet}}}]}}]},
        "extensionProfile": {"extensions": [health_extension(api)]},
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
    }
    if machine.user_data:
        profile["userData"] = encode_user_data(machine.user_data)
    return {"location": api.config.location, "tags": {MANAGED_TAG: MANAGED},
            "sku": {"name": machine.vm_size, "tier": "Standard", "capacity": size},
            "properties": {"orchestrationMode": "Uniform", "overprovision": False,
                           "upgradePolicy": rolling.policy(), "virtualMachineProfile": profile}}


def _get(api: Api, name: str) -> dict[str, Any]:
    found = find(api.timing, f"reading scale set {name}", api.clients.compute.virtual_machine_scale_sets.get,
                 api.group, name)
    if found is None:
        raise UsageError(f"fleet {name!r} not found in resource group {api.group}",
                         hint="create it with `lkcloud fleet create azure NAME --image IMAGE`")
    return doc(found)


def _image_of(scale_set: dict[str, Any]) -> str:
    profile = scale_set.get("properties", {}).get("virtualMachineProfile", {})
    return str(profile.get("storageProfile", {}).get("imageReference", {}).get("id", ""))


def _instance(vm: dict[str, Any], image: str) -> Instance:
    props = vm.get("properties", {})
    code = props.get("instanceView", {}).get("vmHealth", {}).get("status", {}).get("code", "")
    return Instance(id=str(vm.get("instanceId") or vm.get("name")), image=image,
                    state=str(props.get("provisioningState", "unknown")), health=HEALTH.get(code, Health.UNKNOWN),
                    version="latest" if props.get("latestModelApplied") else "previous")


def status(api: Api, name: str) -> FleetStatus:
    scale_set = _get(api, name)
    image = _image_of(scale_set)
    members = api.clients.compute.virtual_machine_scale_set_vms
    vms = call(api.timing, f"listing the instances of {name}",
               lambda: [doc(vm) for vm in members.list(api.group, name, expand="instanceView")])
    return FleetStatus("azure", name, int(scale_set.get("sku", {}).get("capacity", 0)), image,
                       tuple(_instance(vm, image) for vm in vms),
                       str(scale_set.get("properties", {}).get("provisioningState", "unknown")))


def create(api: Api, name: str, size: int, machine: MachineOptions, *, rolling: Rolling,
           reporter: Reporter = NULL) -> FleetStatus:
    validate_name(name, "fleet name")
    rolling.policy()  # checked before anything is made
    body = scale_set_body(api, name, size, machine, subnet=network.subnet_id(api, reporter), rolling=rolling)
    reporter.step(f"creating scale set {name} ({size} x {machine.vm_size}, rolling upgrades)")
    scale_sets = api.clients.compute.virtual_machine_scale_sets
    wait(api.timing, f"creating scale set {name}", scale_sets.begin_create_or_update, api.group, name, body)
    return status(api, name)


def scale(api: Api, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus:
    _get(api, name)
    reporter.step(f"scaling {name} to {size}")
    wait(api.timing, f"scaling {name}", api.clients.compute.virtual_machine_scale_sets.begin_update,
         api.group, name, {"sku": {"capacity": size}})
    return status(api, name)


def delete(api: Api, name: str, reporter: Reporter = NULL) -> None:
    _get(api, name)
    reporter.step(f"deleting scale set {name}")
    wait(api.timing, f"deleting scale set {name}", api.clients.compute.virtual_machine_scale_sets.begin_delete,
         api.group, name)


def _latest(api: Api, name: str) -> dict[str, Any] | None:
    found = find(api.timing, f"reading the rolling upgrade of {name}",
                 api.clients.compute.virtual_machine_scale_set_rolling_upgrades.get_latest, api.group, name)
    return None if found is None else doc(found)


def _started(upgrade: dict[str, Any] | None) -> str:
    return str(((upgrade or {}).get("properties", {}).get("runningStatus") or {}).get("startTime", ""))


def follow(api: Api, name: str, before: str, reporter: Reporter = NULL) -> dict[str, Any]:
    """Poll the scale set's latest rolling upgrade (one that started after ``before``) to its end."""

    def poll() -> dict[str, Any] | None:
        upgrade = _latest(api, name)
        if upgrade is None or _started(upgrade) == before:
            return None
        props = upgrade.get("properties", {})
        progress = props.get("progress", {})
        code = props.get("runningStatus", {}).get("code", RUNNING)
        reporter.step(f"{name}: {code}: {progress.get('successfulInstanceCount', 0)} upgraded, "
                      f"{progress.get('inProgressInstanceCount', 0)} in progress, "
                      f"{progress.get('pendingInstanceCount', 0)} pending, "
                      f"{progress.get('failedInstanceCount', 0)} failed")
        return upgrade if code in FINISHED else None

    retrying = Retrying(retry=retry_if_result(lambda result: result is None),
                        stop=stop_after_delay(api.timing.deadline), wait=wait_fixed(api.timing.poll))
    try:
        result: dict[str, Any] = retrying(poll)  # type: ignore[arg-type]  # None means "poll again"
    except RetryError as exc:
        raise TimeoutExceededError(f"the rolling upgrade of {name} did not end within {api.timing.deadline:g} s",
                                   hint="see it with `lkcloud fleet status azure NAME`") from exc
    return result


def refresh(api: Api, name: str, image_id: str | None, user_data: bytes | None, *, rolling: Rolling,
            reporter: Reporter = NULL) -> RefreshResult:
    """Move the fleet onto a new image and/or user data, and follow the rolling upgrade."""
    scale_set = _get(api, name)
    old = _image_of(scale_set)
    new = image_id or old
    profile = scale_set["properties"].get("virtualMachineProfile", {})
    patch: dict[str, Any] = {"storageProfile": {"imageReference": {"id": new}}}
    if user_data is not None:
        patch["userData"] = encode_user_data(user_data)
    if new == old and patch.get("userData", profile.get("userData")) == profile.get("userData"):
        return RefreshResult("azure", name, True, old, new, "already up to date", status(api, name))
    before = _started(_latest(api, name))
    reporter.step(f"updating the model of {name}: image {new}")
    wait(api.timing, f"updating scale set {name}", api.clients.compute.virtual_machine_scale_sets.begin_update,
         api.group, name, {"properties": {"upgradePolicy": rolling.policy(), "virtualMachineProfile": patch}})
    upgrade = follow(api, name, before, reporter)
    props = upgrade.get("properties", {})
    code = props.get("runningStatus", {}).get("code", "")
    error = props.get("error") or {}
    message = f"rolling upgrade {code}" + (f": {error.get('message')} ({error.get('code')})" if error else "")
    return RefreshResult("azure", name, code == "Completed", old, new, message, status(api, name))
