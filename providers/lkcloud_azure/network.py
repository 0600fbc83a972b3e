"""The network pieces VMs and scale sets need, made when missing: a virtual network with one
subnet, and per VM a NIC and (optionally) a public IP."""

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
            "subnets": [{"name": SUBNET, "properties": {"addressPrefix": SUBNET_PREFIX}}]}}
        found = api.operation(f"creating virtual network {VNET}", vnets.begin_create_or_update, api.group,
                              VNET, body)
    for subnet in doc(found).get("properties", {}).get("subnets", []):
        if subnet.get("name") == SUBNET:
            return str(subnet["id"])
    return f"{doc(found)['id']}/subnets/{SUBNET}"


def public_ip(api: Api, name: str, reporter: Reporter = NULL) -> str:
    reporter.step(f"creating public IP {name}")
    body = {"location": api.config.location, "tags": TAGS, "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}}
    addresses = api.clients.network.public_ip_addresses
    created = api.operation(f"creating public IP {name}", addresses.begin_create_or_update, api.group, name, body)
    return str(doc(created)["id"])


def nic(api: Api, name: str, subnet: str, public_ip_id: str | None, reporter: Reporter = NULL) -> dict[str, Any]:
    config: dict[str, Any] = {"subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic"}
    if public_ip_id:
        config["publicIPAddress"] = {"id": public_ip_id}
    body = {"location": api.config.location, "tags": TAGS,
            "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": config}]}}
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
