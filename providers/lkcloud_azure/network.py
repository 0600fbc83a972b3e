"""The network pieces VMs and scale sets need: a virtual network with one subnet (made when
missing), network security groups, public IPs and NICs.

Inbound traffic is closed unless an NSG allows it: Standard public IPs and load balancers are
secure by default ("Public IP addresses", https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses).
Outbound access is explicit: the subnet is private (``defaultOutboundAccess: false``, the default
for virtual networks made with network API 2025-07-01 or later); a VM reaches out through its
public IP, a fleet through its load balancer's outbound rule ("Default outbound access in
Azure", https://learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access).
"""

from __future__ import annotations

from typing import Any

from lkcloud.progress import NULL, Reporter
from lkcloud_azure.clients import Api
from lkcloud_azure.image import MANAGED_TAGS, doc

VNET = "lkcloud-vnet"
SUBNET = "default"
ADDRESS_SPACE = "10.42.0.0/16"
SUBNET_PREFIX = "10.42.0.0/20"
TAGS = MANAGED_TAGS


def subnet_id(api: Api, reporter: Reporter = NULL) -> str:
    """The lkcloud subnet's id, creating the virtual network on first use."""
    vnets = api.clients.network.virtual_networks
    found = api.find(f"reading virtual network {VNET}", vnets.get, api.group, VNET)
    if found is None:
        reporter.step(f"creating virtual network {VNET}")
        body = {"location": api.config.location, "tags": TAGS, "properties": {
            "addressSpace": {"addressPrefixes": [ADDRESS_SPACE]},
            "subnets": [{"name": SUBNET, "properties": {"addressPrefix": SUBNET_PREFIX,
                                                         "defaultOutboundAccess": False}}]}}
        found = api.operation(f"creating virtual network {VNET}", vnets.begin_create_or_update, api.group,
                              VNET, body)
    for subnet in doc(found).get("properties", {}).get("subnets", []):
        if subnet.get("name") == SUBNET:
            return str(subnet["id"])
    return f"{doc(found)['id']}/subnets/{SUBNET}"


def public_ip(api: Api, name: str, reporter: Reporter = NULL, tags: dict[str, str] | None = None) -> str:
    reporter.step(f"creating public IP {name}")
    body = {"location": api.config.location, "tags": tags or TAGS, "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}}
    addresses = api.clients.network.public_ip_addresses
    created = api.operation(f"creating public IP {name}", addresses.begin_create_or_update, api.group, name, body)
    return str(doc(created)["id"])


def nsg(api: Api, name: str, ports: tuple[int, ...], tags: dict[str, str], reporter: Reporter = NULL) -> str:
    """A network security group that lets in TCP ``ports`` from the internet, and nothing else
    (its default rules deny the rest, and let the load balancer's probes in)."""
    rules = [{"name": f"allow-{port}", "properties": {
        "protocol": "Tcp", "direction": "Inbound", "access": "Allow", "priority": 100 + index,
        "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*",
        "destinationPortRange": str(port)}} for index, port in enumerate(ports)]
    reporter.step(f"creating network security group {name} (inbound TCP {', '.join(map(str, ports)) or 'none'})")
    body = {"location": api.config.location, "tags": tags, "properties": {"securityRules": rules}}
    created = api.operation(f"creating network security group {name}",
                            api.clients.network.network_security_groups.begin_create_or_update, api.group, name, body)
    return str(doc(created)["id"])


def delete(api: Api, kind: str, name: str, reporter: Reporter = NULL) -> None:
    """Delete a network resource lkcloud made (``kind``: the client's attribute); gone is fine."""
    reporter.step(f"deleting {kind.replace('_', ' ').rstrip('s')} {name}")
    operations = getattr(api.clients.network, kind)
    api.operation(f"deleting {name}", operations.begin_delete, api.group, name, missing_ok=True)


def nic(api: Api, name: str, subnet: str, *, public_ip_id: str | None, nsg_id: str | None,
        reporter: Reporter = NULL) -> dict[str, Any]:
    config: dict[str, Any] = {"subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic"}
    if public_ip_id:
        config["publicIPAddress"] = {"id": public_ip_id}
    properties: dict[str, Any] = {"ipConfigurations": [{"name": "ipconfig1", "properties": config}]}
    if nsg_id:
        properties["networkSecurityGroup"] = {"id": nsg_id}
    body = {"location": api.config.location, "tags": TAGS, "properties": properties}
    reporter.step(f"creating network interface {name}")
    return doc(api.operation(f"creating network interface {name}",
                             api.clients.network.network_interfaces.begin_create_or_update, api.group, name, body))


def addresses(api: Api, nic_doc: dict[str, Any]) -> tuple[str | None, str | None]:
    """(public, private) address of a NIC's first IP configuration."""
    configs = nic_doc.get("properties", {}).get("ipConfigurations", [])
    if not configs:
        return None, None
    props = configs[0].get("properties", {})
    private = props.get("privateIPAddress")
    public_id = (props.get("publicIPAddress") or {}).get("id")
    if not public_id:
        return None, private
    name = public_id.rstrip("/").rsplit("/", 1)[1]
    found = api.find(f"reading public IP {name}", api.clients.network.public_ip_addresses.get, api.group, name)
    return (doc(found).get("properties", {}).get("ipAddress") if found is not None else None), private
