"""``run azure``: virtual machines from an image, with LinuxKit user data in ``userData``
(readable from IMDS as ``compute/userData``) and, on request, the serial console log.

lkcloud images have no Azure Linux agent: the VM says so (``provisionVMAgent: false``, no
extension operations) and reports Ready to the WireServer itself (the metadata package)
("Creating generalized images without a provisioning agent",
https://learn.microsoft.com/azure/virtual-machines/linux/no-agent). A VM's OS profile cannot
change after creation, so running a name that exists reports that VM rather than PUT it again
(a new admin password would be ``PropertyChangeNotAllowed``).
"""

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
CONSOLE_TIMEOUT = 60.0  # seconds: one read of the serial log


@dataclass(frozen=True)
class MachineOptions:
    """How a VM (or a scale set's VMs) is made."""

    image_id: str
    vm_size: str
    user_data: bytes | None = None
    ssh_key: str | None = None  # an OpenSSH public key for the admin user
    public_ip: bool = True
    console: bool = False
    ports: tuple[int, ...] = ()  # inbound TCP ports the NSG lets in


def os_profile(name_key: str, name: str, ssh_key: str | None) -> dict[str, Any]:
    """The OS profile Azure demands for a generalized image. The image has no agent to apply it:
    without a key the password is random, sent to Azure only, and never kept."""
    profile: dict[str, Any] = {name_key: name, "adminUsername": ADMIN, "allowExtensionOperations": False,
                               "linuxConfiguration": {"disablePasswordAuthentication": ssh_key is not None,
                                                      "provisionVMAgent": False}}
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


def _existing(api: Api, name: str) -> dict[str, Any] | None:
    found = api.find(f"reading VM {name}", api.clients.compute.virtual_machines.get, api.group, name)
    return None if found is None else doc(found)


def _instance(api: Api, vm: dict[str, Any], nic_doc: dict[str, Any] | None, image_id: str) -> Instance:
    public, private = network.addresses(api, nic_doc) if nic_doc else (None, None)
    return Instance(id=str(vm["id"]), image=image_id,
                    state=str(vm.get("properties", {}).get("provisioningState", "unknown")), address=public or private)


def _reuse(api: Api, name: str, vm: dict[str, Any], machine: MachineOptions, reporter: Reporter) -> Instance:
    """A VM of that name exists: the same image is that VM, another image is an error."""
    image = str(vm.get("properties", {}).get("storageProfile", {}).get("imageReference", {}).get("id", ""))
    if image.lower() != machine.image_id.lower():
        raise UsageError(f"VM {name} already exists with image {image}",
                         hint="pick another --name, or delete that VM first")
    reporter.step(f"VM {name} already exists: not creating it again")
    nics = vm.get("properties", {}).get("networkProfile", {}).get("networkInterfaces", [])
    nic_name = str(nics[0]["id"]).rsplit("/", 1)[1] if nics else None
    found = api.find(f"reading network interface {nic_name}", api.clients.network.network_interfaces.get,
                     api.group, nic_name) if nic_name else None
    return _instance(api, vm, doc(found) if found is not None else None, image)


def _launch(api: Api, name: str, subnet: str, machine: MachineOptions, reporter: Reporter) -> Instance:
    existing = _existing(api, name)
    if existing is not None:
        return _reuse(api, name, existing, machine, reporter)
    ip = network.public_ip(api, f"{name}-ip", reporter) if machine.public_ip else None
    if ip is None:
        reporter.step(f"warning: VM {name} has no public IP and the subnet is private: no outbound internet access")
    nsg = network.nsg(api, f"{name}-nsg", machine.ports, MANAGED_TAGS, reporter)
    nic = network.nic(api, f"{name}-nic", subnet, public_ip_id=ip, nsg_id=nsg, reporter=reporter)
    reporter.step(f"creating VM {name} ({machine.vm_size})")
    vm = doc(api.operation(f"creating VM {name}", api.clients.compute.virtual_machines.begin_create_or_update,
                           api.group, name, vm_body(api, name, str(nic["id"]), machine)))
    return _instance(api, vm, nic, machine.image_id)


def _serial_log(api: Api, name: str) -> str | None:
    """The VM's serial console log, or None while boot diagnostics have none yet."""
    data = doc(api.call(f"reading the boot diagnostics of {name}",
                        api.clients.compute.virtual_machines.retrieve_boot_diagnostics_data, api.group, name))
    uri = data.get("serialConsoleLogBlobUri")
    if not uri:
        return None
    try:
        response = requests.get(uri, timeout=CONSOLE_TIMEOUT)
    except requests.RequestException as exc:
        raise ProviderError(f"reading the serial console of {name}: {exc}") from exc
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        raise ProviderError(f"reading the serial console of {name}: HTTP {response.status_code}")
    return response.text


def console(api: Api, name: str, timeout: float) -> str:
    """The VM's serial console log, waiting (up to ``timeout`` s) for boot diagnostics to have one."""
    found = api.calls.wait(f"the serial console log of {name}", lambda: _serial_log(api, name),
                           lambda text: text is not None, timeout=timeout,
                           hint="boot diagnostics may still be starting; run again with --console later")
    return found or ""


def run(api: Api, request: RunRequest, machine: MachineOptions, base_name: str, *, console_timeout: float,
        reporter: Reporter = NULL) -> RunResult:
    """Create ``request.count`` VMs (and their network pieces) and wait for each."""
    chosen = names(request.name or base_name, request.count)
    subnet = network.subnet_id(api, reporter)
    made = tuple(_launch(api, name, subnet, machine, reporter) for name in chosen)
    text = "\n".join(f"== {name} ==\n{console(api, name, console_timeout)}" for name in chosen) \
        if machine.console else None
    return RunResult("azure", made, text)
