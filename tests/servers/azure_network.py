"""Networking as the fake Resource Manager models it: who answers a load balancer's health probe,
what traffic a network security group lets in, and which machines can reach the internet.

Microsoft's documentation, modelled here:
- A Standard public IP and a Standard load balancer are secure by default: closed to inbound
  traffic unless a network security group allows it ("Public IP addresses", "What is Azure Load
  Balancer?": https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses,
  https://learn.microsoft.com/azure/load-balancer/load-balancer-overview).
- An NSG's rules are evaluated by priority, the first match wins; its default rules allow
  VirtualNetwork and AzureLoadBalancer sources and deny everything else inbound (so the load
  balancer's probe always gets through) ("Network security groups",
  https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview).
- A probe takes effect through a load-balancing rule that uses it ("Manage health probes for Azure
  Load Balancer", https://learn.microsoft.com/azure/load-balancer/manage-probes-how-to); an HTTP
  probe is up when ``requestPath`` on ``port`` answers 200.
- Outbound access is explicit: a NAT gateway on the subnet, a Standard load balancer's outbound
  rule for the backend pool, or a public IP on the machine; subnets of virtual networks created
  with network API 2025-07-01 or later are private (``defaultOutboundAccess: false``) unless that
  is set ("Default outbound access in Azure",
  https://learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access).
- Per-rule health: POST ``…/loadBalancingRules/{rule}/health`` answers, as a long-running
  operation, ``{up, down, loadBalancerBackendAddresses: [{ipAddress,
  networkInterfaceIPConfigurationId, state: Up|Down, reason}]}`` ("Load Balancer Load Balancing
  Rules - Health", https://learn.microsoft.com/rest/api/load-balancer/load-balancer-load-balancing-rules/health).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

Json = dict[str, Any]
PRIVATE_SUBNETS_FROM = "2025-07-01"  # network API version from which new subnets are private
INTERNET_SOURCES = ("*", "internet", "0.0.0.0/0", "any")


@dataclass
class App:
    """What every image the fake boots serves: an HTTP health endpoint (the FaaS worker's
    ``/healthz`` on 8080), unless the image is broken. No image has the Azure Linux agent unless
    named in ``agent``."""

    port: int = 8080
    path: str = "/healthz"
    broken: set[str] = field(default_factory=set)  # lower-cased image ids that never answer
    agent: set[str] = field(default_factory=set)  # lower-cased image ids with the Azure Linux agent

    def answers(self, image: str, protocol: str, port: int, path: str | None) -> bool:
        if image.lower() in self.broken or port != self.port:
            return False
        return protocol.lower() == "tcp" or (protocol.lower() in ("http", "https") and path == self.path)


class Resources(Protocol):
    resources: dict[str, Json]
    app: App


@dataclass(frozen=True)
class Member:
    """A machine in a backend pool: its NIC IP configuration, address, image and NSG ids."""

    ipconfig: str
    address: str
    image: str
    nsgs: tuple[str, ...]
    subnet: str
    public_ip: str | None = None


def sub_resource(fake: Resources, ident: str) -> Json | None:
    """A child of a resource body (``…/loadBalancers/lb/probes/health``) or a resource."""
    found = fake.resources.get(ident.lower())
    if found is not None:
        return found
    parent, kind, name = ident.rsplit("/", 2)
    owner = fake.resources.get(parent.lower())
    if owner is None:
        return None
    for child in owner.get("properties", {}).get(kind, []):
        if str(child.get("name", "")).lower() == name.lower():
            return dict(child)
    return None


def _ids(items: list[Json] | None) -> list[str]:
    return [str(item.get("id", "")).lower() for item in items or []]


def probe_up(fake: Resources, probe_id: str, image: str) -> bool:
    probe = sub_resource(fake, probe_id)
    if probe is None:
        return False
    props = probe.get("properties", {})
    return fake.app.answers(image, str(props.get("protocol", "")), int(props.get("port", 0)), props.get("requestPath"))


def rules_using(fake: Resources, probe_id: str) -> list[Json]:
    """The load-balancing rules that use a probe (without one, a probe takes no effect)."""
    lb = fake.resources.get(probe_id.lower().rsplit("/probes/", 1)[0])
    rules = (lb or {}).get("properties", {}).get("loadBalancingRules", [])
    return [r for r in rules if str(r.get("properties", {}).get("probe", {}).get("id", "")).lower() == probe_id.lower()]


def _port_matches(ranges: list[str], port: int) -> bool:
    for text in ranges:
        if text == "*":
            return True
        low, _, high = text.partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


def nsg_allows(fake: Resources, nsg_id: str, port: int, source: str = "internet") -> bool:
    """Whether the NSG lets TCP ``port`` in from ``source``: its rules by priority, then the
    default rules (only VirtualNetwork and AzureLoadBalancer are let in)."""
    nsg = fake.resources.get(nsg_id.lower())
    if nsg is None:
        return False
    rules = sorted(nsg.get("properties", {}).get("securityRules", []),
                   key=lambda r: int(r.get("properties", {}).get("priority", 4096)))
    for rule in rules:
        props = rule.get("properties", {})
        if str(props.get("direction", "")).lower() != "inbound" or props.get("protocol", "*") not in ("*", "Tcp"):
            continue
        given = [props.get("sourceAddressPrefix"), *(props.get("sourceAddressPrefixes") or [])]
        sources = [str(s).lower() for s in given if s]
        if source == "internet" and not any(s in INTERNET_SOURCES for s in sources):
            continue
        if source == "azureloadbalancer" and not any(s in ("*", "azureloadbalancer") for s in sources):
            continue
        ports = [props.get("destinationPortRange"), *(props.get("destinationPortRanges") or [])]
        if _port_matches([str(p) for p in ports if p], port):
            return str(props.get("access", "")).lower() == "allow"
    return source == "azureloadbalancer"


def subnet_of(fake: Resources, subnet_id: str) -> Json:
    return sub_resource(fake, subnet_id) or {}


def inbound(fake: Resources, member: Member, port: int) -> bool:
    """Traffic from the internet reaches ``member`` on ``port`` only through NSGs that allow it,
    and not at all without one (Standard SKU)."""
    return bool(member.nsgs) and all(nsg_allows(fake, nsg, port) for nsg in member.nsgs)


def outbound(fake: Resources, member: Member, pools: list[str]) -> bool:
    """Whether ``member`` (in backend ``pools``) can open connections to the internet."""
    if member.public_ip:
        return True
    subnet = subnet_of(fake, member.subnet).get("properties", {})
    if subnet.get("natGateway"):
        return True
    for lb in _load_balancers(fake):
        for rule in lb.get("properties", {}).get("outboundRules", []):
            if str(rule.get("properties", {}).get("backendAddressPool", {}).get("id", "")).lower() in pools:
                return True
    return bool(subnet.get("defaultOutboundAccess"))


def _load_balancers(fake: Resources) -> Iterator[Json]:
    for key, resource in fake.resources.items():
        if "/microsoft.network/loadbalancers/" in key and key.count("/") == 8:
            yield resource


def frontend_of(fake: Resources, address: str) -> tuple[Json | None, str | None, Json | None]:
    """(load balancer, frontend id, public IP) for a public address, or the IP alone."""
    ip = next((r for r in fake.resources.values() if r.get("type", "").lower().endswith("publicipaddresses")
               and r.get("properties", {}).get("ipAddress") == address), None)
    if ip is None:
        return None, None, None
    for lb in _load_balancers(fake):
        for frontend in lb.get("properties", {}).get("frontendIPConfigurations", []):
            if str(frontend.get("properties", {}).get("publicIPAddress", {}).get("id", "")).lower() == ip["id"].lower():
                return lb, f"{lb['id']}/frontendIPConfigurations/{frontend['name']}".lower(), ip
    return None, None, ip


def rule_health(fake: Resources, members: list[tuple[Member, list[str]]], rule: Json) -> Json:
    """The body of a per-rule health answer for the members of the rule's backend pool."""
    props = rule.get("properties", {})
    pool = str(props.get("backendAddressPool", {}).get("id", "")).lower()
    probe = str(props.get("probe", {}).get("id", ""))
    addresses = []
    for member, pools in members:
        if pool in pools:
            up = probe_up(fake, probe, member.image)
            addresses.append({"ipAddress": member.address, "networkInterfaceIPConfigurationId": member.ipconfig,
                              "state": "Up" if up else "Down",
                              "reason": "Up" if up else "Probe did not get a 200 from the backend (fake)"})
    return {"up": sum(a["state"] == "Up" for a in addresses), "down": sum(a["state"] == "Down" for a in addresses),
            "loadBalancerBackendAddresses": addresses}


def ip_configs(nic: Json) -> Iterator[Json]:
    yield from nic.get("properties", {}).get("ipConfigurations", [])


def pools_of(nic_config: Json) -> list[str]:
    pools: list[str] = []
    for config in ip_configs(nic_config):
        pools += _ids(config.get("properties", {}).get("loadBalancerBackendAddressPools"))
    return pools
