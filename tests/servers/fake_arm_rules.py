"""What the fake Resource Manager checks and does per resource type: validation of what is sent,
what settles when an operation ends, the scale sets' health, and traffic.

Microsoft's documentation, modelled here:
- Rolling upgrades of a Uniform scale set need a load balancer health probe or the Application
  Health extension: "Rolling Upgrade mode is not supported for this Virtual Machine Scale Set
  because a health probe or health extension was not provided." ("Configure rolling upgrades on
  Virtual Machine Scale Sets", https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-configure-rolling-upgrades).
- Extensions, the Application Health extension included, are run by the Azure Linux agent; an
  image without it never provisions them and the operation times out ("Azure Linux VM Agent
  overview", https://learn.microsoft.com/azure/virtual-machines/extensions/agent-linux; "Creating
  generalized images without a provisioning agent",
  https://learn.microsoft.com/azure/virtual-machines/linux/no-agent). ``allowExtensionOperations``
  may be false only when there are no extensions ("OSProfile", Compute REST reference).
- The OS profile of a VM cannot change after creation: a second PUT with another admin password
  is refused with ``PropertyChangeNotAllowed``.
- Secrets and user data are not returned by a GET (``$expand=userData`` returns user data).
- A load balancer, public IP or NSG that something still uses cannot be deleted ("InUse").
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from tests.servers import azure_network as net
from tests.servers.azure_vmss import ScaleSet, now

if TYPE_CHECKING:
    from tests.servers.fake_arm import FakeArm, Reply

Json = dict[str, Any]
VMSS = "microsoft.compute/virtualmachinescalesets"
VM = "microsoft.compute/virtualmachines"
STORAGE = "microsoft.storage/storageaccounts"
LB_CHILDREN = ("frontendIPConfigurations", "backendAddressPools", "probes", "loadBalancingRules", "outboundRules")
HEALTH_EXTENSIONS = ("applicationhealthlinux", "applicationhealthwindows")
NO_PROBE = ("Rolling Upgrade mode is not supported for this Virtual Machine Scale Set because a health probe or "
            "health extension was not provided.")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def without_user_data(resource: Json) -> Json:
    """A resource as a plain GET returns it: no user data, no admin password."""
    found = copy.deepcopy(resource)
    props = found.get("properties", {})
    for holder in (props, props.get("virtualMachineProfile", {})):
        holder.pop("userData", None)
        holder.get("osProfile", {}).pop("adminPassword", None)
    return found


def _extensions(profile: Json) -> list[Json]:
    return list(profile.get("extensionProfile", {}).get("extensions", []) or [])


def _image(profile: Json) -> str:
    return str(profile.get("storageProfile", {}).get("imageReference", {}).get("id", ""))


def _validate_scale_set(fake: FakeArm, body: Json) -> None:
    props = body.get("properties", {})
    profile = props.get("virtualMachineProfile", {})
    extensions = _extensions(profile)
    if profile.get("osProfile", {}).get("allowExtensionOperations") is False and extensions:
        raise ApiError(400, "OperationNotAllowed", "Extensions are not allowed when allowExtensionOperations is false.")
    probe = str(profile.get("networkProfile", {}).get("healthProbe", {}).get("id", ""))
    health_extension = any(str(e.get("properties", {}).get("type", "")).lower() in HEALTH_EXTENSIONS
                           for e in extensions)
    if props.get("upgradePolicy", {}).get("mode") == "Rolling" and not probe and not health_extension:
        raise ApiError(400, "BadRequest", NO_PROBE)
    if probe:
        if net.sub_resource(fake, probe) is None:
            raise ApiError(400, "InvalidResourceReference",
                           f"Resource {probe} referenced by the scale set was not found.")
        if not net.rules_using(fake, probe):
            raise ApiError(400, "InvalidParameter", f"Health probe {probe} is not used by any load balancing rule.")


def _validate_vm(body: Json, previous: Json | None) -> None:
    if previous is None:
        return
    before = previous.get("properties", {}).get("osProfile", {})
    after = body.get("properties", {}).get("osProfile", {})
    for key in ("adminPassword", "adminUsername", "computerName"):
        if key in after and after.get(key) != before.get(key):
            raise ApiError(409, "PropertyChangeNotAllowed", f"Changing property 'osProfile.{key}' is not allowed.")


def _validate_version(fake: FakeArm, path: str, body: Json) -> None:
    """A managed image runs on x64 only: an Arm64 definition's versions come from a VHD
    ("Store and share images in an Azure Compute Gallery",
    https://learn.microsoft.com/azure/virtual-machines/shared-image-galleries)."""
    definition = fake.resources.get(path.lower().split("/versions/")[0], {})
    source = body.get("properties", {}).get("storageProfile", {}).get("source", {}).get("id", "")
    if str(definition.get("properties", {}).get("architecture", "x64")).lower() == "arm64" and "/images/" in \
            str(source).lower() and "/galleries/" not in str(source).lower():
        raise ApiError(400, "InvalidParameter", "The source managed image is x64; the image definition is Arm64.")


def validate(fake: FakeArm, kind: str, body: Json, previous: Json | None, path: str = "") -> None:
    if kind == VMSS:
        _validate_scale_set(fake, body)
    elif kind == VM:
        _validate_vm(body, previous)
    elif kind == "microsoft.compute/galleries/images/versions":
        _validate_version(fake, path, body)


def created(fake: FakeArm, kind: str, resource: Json, query: dict[str, list[str]]) -> None:
    """Ids and defaults Resource Manager fills in on a PUT."""
    props = resource.setdefault("properties", {})
    if kind == "microsoft.network/virtualnetworks":
        version = query.get("api-version", [""])[0]
        for subnet in props.get("subnets", []):
            subnet["id"] = f"{resource['id']}/subnets/{subnet['name']}"
            subnet_props = subnet.setdefault("properties", {})
            subnet_props.setdefault("defaultOutboundAccess", version < net.PRIVATE_SUBNETS_FROM)
    elif kind == "microsoft.network/loadbalancers":
        for child_kind in LB_CHILDREN:
            for child in props.get(child_kind, []):
                child["id"] = f"{resource['id']}/{child_kind}/{child['name']}"
    elif kind == "microsoft.network/networksecuritygroups":
        for rule in props.get("securityRules", []):
            rule["id"] = f"{resource['id']}/securityRules/{rule['name']}"


def failure(fake: FakeArm, kind: str, resource: Json) -> tuple[int, ApiError] | None:
    """(polls, error) when the operation will fail: a scale set's extensions on an image that has
    no agent to run them time out."""
    if kind != VMSS:
        return None
    profile = resource.get("properties", {}).get("virtualMachineProfile", {})
    extensions = _extensions(profile)
    if extensions and _image(profile).lower() not in fake.app.agent:
        name = extensions[0].get("name", "extension")
        return fake.extension_polls, ApiError(200, "VMExtensionProvisioningTimeout",
                                              f"Provisioning of VM extension {name} has timed out. Extension "
                                              "provisioning has taken too long to complete (fake: the image has "
                                              "no Azure Linux agent).")
    return None


def _model(resource: Json) -> Json:
    profile = resource.get("properties", {}).get("virtualMachineProfile", {})
    return {"image": _image(profile).lower(), "userData": profile.get("userData")}


def settled(fake: FakeArm, kind: str, resource: Json, previous: Json | None) -> None:
    props = resource["properties"]
    if kind == "microsoft.network/virtualnetworks":
        for subnet in props.get("subnets", []):
            subnet["properties"]["provisioningState"] = "Succeeded"
            fake.resources[subnet["id"].lower()] = copy.deepcopy(subnet) | {
                "type": "Microsoft.Network/virtualNetworks/subnets"}
    elif kind == "microsoft.network/networkinterfaces":
        for index, config in enumerate(props.get("ipConfigurations", [])):
            config["id"] = f"{resource['id']}/ipConfigurations/{config.get('name', index)}"
            config.setdefault("properties", {})["privateIPAddress"] = f"10.0.0.{4 + fake.next_id() % 250}"
    elif kind == "microsoft.network/publicipaddresses":
        props["ipAddress"] = f"203.0.113.{1 + fake.next_id() % 250}"
    elif kind == VM:
        props.setdefault("vmId", f"00000000-0000-4000-8000-{fake.next_id():012d}")
        props.setdefault("timeCreated", now())
    elif kind == VMSS:
        scale_set = fake.scale_sets.setdefault(resource["id"].lower(), ScaleSet(resource["id"], resource["name"],
                                                                               _model(resource)))
        props.setdefault("uniqueId", f"vmss-{fake.next_id()}")
        props.setdefault("timeCreated", now())
        if previous is not None and _model(resource) != scale_set.model:
            policy = props.get("upgradePolicy", {})
            scale_set.new_model(_model(resource), policy.get("rollingUpgradePolicy", {}),
                                policy.get("mode") == "Rolling")
        scale_set.resize(int(resource.get("sku", {}).get("capacity", 0)))


def deletable(fake: FakeArm, key: str) -> None:
    """A resource that another one refers to is in use."""
    for other_key, other in fake.resources.items():
        if other_key == key or other_key.startswith(key + "/"):
            continue
        text = json.dumps(other).lower()
        if f'"{key}"' in text or f'"{key}/' in text:
            raise ApiError(400, "InUseByOtherResource", f"{key} is in use by {other_key}")


# -- scale sets: health and members -----------------------------------------------------------
def _nic_configs(scale_set: Json) -> list[Json]:
    profile = scale_set.get("properties", {}).get("virtualMachineProfile", {})
    return list(profile.get("networkProfile", {}).get("networkInterfaceConfigurations", []) or [])


def healthy(fake: FakeArm, resource: Json, model: Json) -> bool | None:
    """An instance's health: its load balancer probe's answer when the scale set names one (and
    the instance is in a pool of a rule using it); the extension's only when an agent runs it."""
    profile = resource.get("properties", {}).get("virtualMachineProfile", {})
    probe = str(profile.get("networkProfile", {}).get("healthProbe", {}).get("id", ""))
    if probe:
        pools = {p for config in _nic_configs(resource) for p in net.pools_of(config)}
        used = any(str(r.get("properties", {}).get("backendAddressPool", {}).get("id", "")).lower() in pools
                   for r in net.rules_using(fake, probe))
        return used and net.probe_up(fake, probe, model["image"])
    for extension in _extensions(profile):
        settings = extension.get("properties", {}).get("settings", {})
        if model["image"] in fake.app.agent:
            return fake.app.answers(model["image"], str(settings.get("protocol", "")), int(settings.get("port", 0)),
                                    settings.get("requestPath"))
    return None


def _extension_code(fake: FakeArm, resource: Json, model: Json) -> str | None:
    """vmHealth in the instance view: reported by the Application Health extension only."""
    profile = resource.get("properties", {}).get("virtualMachineProfile", {})
    if not _extensions(profile) or model["image"] not in fake.app.agent:
        return None
    return "HealthState/healthy" if healthy(fake, resource, model) else "HealthState/unhealthy"


def members(fake: FakeArm) -> list[tuple[net.Member, list[str]]]:
    """Every machine's NIC IP configurations: scale-set instances and VMs' NICs."""
    found: list[tuple[net.Member, list[str]]] = []
    for key, scale_set in fake.scale_sets.items():
        resource = fake.resources.get(key)
        if resource is None:
            continue
        for config in _nic_configs(resource):
            nsg = str(config.get("properties", {}).get("networkSecurityGroup", {}).get("id", "")).lower()
            for ip in net.ip_configs(config):
                subnet = str(ip.get("properties", {}).get("subnet", {}).get("id", ""))
                for instance_id, model in scale_set.instances.items():
                    ident = f"{resource['id']}/virtualMachines/{instance_id}/networkInterfaces/{config['name']}" \
                            f"/ipConfigurations/{ip['name']}"
                    member = net.Member(ident, f"10.42.1.{4 + int(instance_id)}", model["image"],
                                        (nsg,) if nsg else (), subnet)
                    found.append((member, net.pools_of({"properties": {"ipConfigurations": [ip]}})))
    nics = [r for r in fake.resources.values() if r.get("type", "").lower() == "microsoft.network/networkinterfaces"]
    for nic in nics:
        nsg = str(nic.get("properties", {}).get("networkSecurityGroup", {}).get("id", "")).lower()
        vm = next((v for v in fake.resources.values() if v.get("type", "").lower() == VM and nic["id"].lower() in
                   json.dumps(v).lower()), None)
        image = _image(vm.get("properties", {})) if vm else ""
        for ip in net.ip_configs(nic):
            props = ip.get("properties", {})
            public = props.get("publicIPAddress", {}).get("id")
            member = net.Member(str(ip.get("id", nic["id"])), str(props.get("privateIPAddress", "")), image.lower(),
                                (nsg,) if nsg else (), str(props.get("subnet", {}).get("id", "")),
                                str(public).lower() if public else None)
            found.append((member, net.pools_of({"properties": {"ipConfigurations": [ip]}})))
    return found


def reachable(fake: FakeArm, address: str, port: int) -> bool:
    lb, frontend, ip = net.frontend_of(fake, address)
    everyone = members(fake)
    if lb is not None:
        for rule in lb.get("properties", {}).get("loadBalancingRules", []):
            props = rule.get("properties", {})
            if str(props.get("frontendIPConfiguration", {}).get("id", "")).lower() != frontend or \
                    int(props.get("frontendPort", 0)) != port:
                continue
            pool = str(props.get("backendAddressPool", {}).get("id", "")).lower()
            backend_port = int(props.get("backendPort", port))
            probe = str(props.get("probe", {}).get("id", ""))
            for member, pools in everyone:
                serving = net.probe_up(fake, probe, member.image) and net.inbound(fake, member, backend_port)
                if pool in pools and serving:
                    return fake.app.answers(member.image, "tcp", backend_port, None)
        return False
    if ip is not None:
        for member, _ in everyone:
            if member.public_ip == ip["id"].lower():
                return net.inbound(fake, member, port) and fake.app.answers(member.image, "tcp", port, None)
    return False


def can_reach_out(fake: FakeArm, ident: str) -> bool:
    ident = ident.lower()
    for member, pools in members(fake):
        owner = member.ipconfig.lower()
        vm = next((v for v in fake.resources.values() if v.get("type", "").lower() == VM and
                   v["id"].lower() == ident), None)
        if owner.startswith(ident + "/") or (vm is not None and owner.rsplit("/ipconfigurations/", 1)[0] in
                                              json.dumps(vm).lower()):
            return net.outbound(fake, member, pools)
    return False


# -- special routes ---------------------------------------------------------------------------
def special(fake: FakeArm, method: str, path: str) -> Reply | None:
    from tests.servers.fake_arm import Reply

    lower = path.lower()
    if lower.endswith("/rollingupgrades/latest"):
        key = path.rsplit("/", 2)[0].lower()
        scale_set, resource = fake.scale_sets.get(key), fake.resources.get(key)
        if scale_set is None or resource is None:
            raise ApiError(404, "ResourceNotFound", f"scale set {key} not found")
        scale_set.advance(lambda _i, model: healthy(fake, resource, model))
        latest = scale_set.latest()
        if latest is None:
            raise ApiError(404, "NotFound", "no rolling upgrade has run on this scale set")
        return Reply(200, latest)
    if method == "GET" and VMSS in lower and lower.endswith("/virtualmachines"):
        key = path.rsplit("/", 1)[0].lower()
        scale_set, resource = fake.scale_sets.get(key), fake.resources.get(key)
        if scale_set is None or resource is None:
            raise ApiError(404, "ResourceNotFound", f"scale set {key} not found")
        return Reply(200, {"value": scale_set.vms(lambda _i, model: _extension_code(fake, resource, model))})
    if method == "POST" and STORAGE in lower and lower.endswith("/listkeys"):
        if not fake.may_list_keys:  # Contributor has the action; Reader and data roles do not
            raise ApiError(403, "AuthorizationFailed", "The client does not have authorization to perform action "
                           "'Microsoft.Storage/storageAccounts/listKeys/action'.")
        return Reply(200, {"keys": [{"keyName": "key1", "value": fake.storage_key, "permissions": "FULL"}]})
    if method == "POST" and lower.endswith("/retrievebootdiagnosticsdata"):
        vm = path.split("/")[-2]
        return Reply(200, {"consoleScreenshotBlobUri": f"{fake.base}/console/{vm}.bmp",
                           "serialConsoleLogBlobUri": f"{fake.base}/console/{vm}"})
    if method == "POST" and "/loadbalancingrules/" in lower and lower.endswith("/health"):
        rule = net.sub_resource(fake, path.rsplit("/", 1)[0])
        if rule is None:
            raise ApiError(404, "NotFound", f"no load-balancing rule {path}")
        return fake.start_post(lambda: net.rule_health(fake, members(fake), rule))
    return None
