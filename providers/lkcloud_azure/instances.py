"""``run azure``: virtual machines from an image, with LinuxKit user data in ``userData``
(readable from IMDS as ``compute/userData``) and, on request, the serial console log."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any

import requests

from lkcloud.errors import ProviderError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import Instance, RunRequest, RunResult
from lkcloud_azure import network
from lkcloud_azure.clients import Api
from lkcloud_azure.image import MANAGED_TAGS, doc

VM_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,62}[A-Za-z0-9])?")
ADMIN = "lkcloud"
CONSOLE_TIMEOUT = 60.0


@dataclass(frozen=True)
class MachineOptions:
    """How a VM (or a scale set's VMs) is made."""

    image_id: str
    vm_size: str
    user_data: bytes | None = None
    ssh_key: str | None = None  # an OpenSSH public key for the admin user
    public_ip: bool = True
    console: bool = False


def os_profile(name_key: str, name: str, ssh_key: str | None) -> dict[str, Any]:
    """The OS profile Azure demands for a generalized image. The image has no agent to apply it:
    without a key the password is random, sent to Azure only, and never kept."""
    profile: dict[str, Any] = {name_key: name, "adminUsername": ADMIN,
                               "linuxConfiguration": {"disablePasswordAuthentication": ssh_key is not None}}
    if ssh_key:
        profile["linuxConfiguration"]["ssh"] = {
            "publicKeys": [{"path": f"/home/{ADMIN}/.ssh/authorized_keys", "keyData": ssh_key}]}
    else:
        profile["adminPassword"] = "Lk1!" + secrets.token_urlsafe(24)
    return profile


def encode_user_data(user_data: bytes | None) -> str | None:
    return base64.b64encode(user_data).decode() if user_data else None


def vm_body(api: Api, name: str, nic_id: str, machine: MachineOptions) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "hardwareProfile": {"vmSize": machine.vm_size},
        "storageProfile": {"imageReference": {"id": machine.image_id},
                           "osDisk": {"createOption": "FromImage", "deleteOption": "Delete",
                                      "managedDisk": {"storageAccountType": "Standard_LRS"}}},
        "osProfile": os_profile("computerName", name, machine.ssh_key),
        "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True,
                                                                                "deleteOption": "Delete"}}]},
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": machine.console}},
    }
    if machine.user_data:
        properties["userData"] = encode_user_data(machine.user_data)
    return {"location": api.config.location, "tags": MANAGED_TAGS, "properties": properties}


def base_name(image_id: str) -> str:
    """A VM name from the image it runs: the image's name, or a gallery version's definition."""
    parts = image_id.rstrip("/").split("/")
    if len(parts) > 2 and parts[-2].lower() == "versions":
        return parts[-3]
    return parts[-1]


def names(base: str, count: int) -> list[str]:
    stem = re.sub(r"[^A-Za-z0-9.-]+", "-", base).strip("-.")[:56] or "lkcloud"
    chosen = [stem] if count == 1 else [f"{stem}-{i}" for i in range(count)]
    for name in chosen:
        if not VM_NAME.fullmatch(name):
            raise UsageError(f"VM name {name!r} is not valid", hint="letters, digits, '.' and '-', at most 64")
    return chosen


def _launch(api: Api, name: str, subnet: str, machine: MachineOptions, reporter: Reporter) -> Instance:
    ip = network.public_ip(api, f"{name}-ip", reporter) if machine.public_ip else None
    nic = network.nic(api, f"{name}-nic", subnet, ip, reporter)
    reporter.step(f"creating VM {name} ({machine.vm_size})")
    vm = doc(api.operation(f"creating VM {name}", api.clients.compute.virtual_machines.begin_create_or_update,
                           api.group, name, vm_body(api, name, str(nic["id"]), machine)))
    public, private = network.addresses(api, nic)
    return Instance(id=str(vm["id"]), image=machine.image_id,
                    state=str(vm.get("properties", {}).get("provisioningState", "unknown")), address=public or private)


def console(api: Api, name: str) -> str:
    """The VM's serial console log (boot diagnostics)."""
    data = doc(api.call(f"reading the boot diagnostics of {name}",
                        api.clients.compute.virtual_machines.retrieve_boot_diagnostics_data, api.group, name))
    uri = data.get("serialConsoleLogBlobUri")
    if not uri:
        raise ProviderError(f"VM {name} has no serial console log yet", hint="boot diagnostics may still be starting")
    try:
        response = requests.get(uri, timeout=CONSOLE_TIMEOUT)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise ProviderError(f"reading the serial console of {name}: {exc}") from exc
    return response.text


def run(api: Api, request: RunRequest, machine: MachineOptions, base_name: str,
        reporter: Reporter = NULL) -> RunResult:
    """Create ``request.count`` VMs (and their network pieces) and wait for each."""
    chosen = names(request.name or base_name, request.count)
    subnet = network.subnet_id(api, reporter)
    made = tuple(_launch(api, name, subnet, machine, reporter) for name in chosen)
    text = "\n".join(f"== {name} ==\n{console(api, name)}" for name in chosen) if machine.console else None
    return RunResult("azure", made, text)
