"""A fleet's load balancer: how its instances are judged healthy, reached and let out.

lkcloud images have no Azure Linux agent, so no extension (the Application Health extension
included) ever runs on them ("Azure Linux VM Agent overview",
https://learn.microsoft.com/azure/virtual-machines/extensions/agent-linux). A Uniform scale set's
rolling upgrades then need a load balancer health probe ("Configure rolling upgrades on Virtual
Machine Scale Sets"). Each fleet gets a Standard load balancer ``NAME-lb`` with a public IP
``NAME-lb-ip``: an HTTP probe on the fleet's health path and port (effective through the
load-balancing rules that use it), a rule per allowed port, and an outbound rule that is the
instances' only way out ("Outbound rules Azure Load Balancer",
https://learn.microsoft.com/azure/load-balancer/outbound-rules). An NSG ``NAME-nsg`` on the
instances' NICs lets in the allowed ports only. All three go with the fleet.

Instance health is read per load-balancing rule ("Load Balancer Load Balancing Rules - Health",
https://learn.microsoft.com/rest/api/load-balancer/load-balancer-load-balancing-rules/health).
"""

from __future__ import annotations

from dataclasses import dataclass

from lkcloud.progress import NULL, Reporter
from lkcloud.provider import tags as lk_tags
from lkcloud.provider.types import Health, HealthCheck
from lkcloud_azure import network
from lkcloud_azure.clients import Api
from lkcloud_azure.image import doc, group_id

FRONTEND, POOL, PROBE, OUTBOUND = "frontend", "pool", "health", "outbound"
PROBE_THRESHOLD = 2  # consecutive answers that change a probe's verdict
MIN_INTERVAL = 5  # seconds: the shortest probe interval Azure takes


@dataclass(frozen=True)
class Fleet:
    """The names and ids of what a fleet's network is made of."""

    api: Api
    name: str

    @property
    def lb_name(self) -> str:
        return f"{self.name}-lb"

    @property
    def ip_name(self) -> str:
        return f"{self.name}-lb-ip"

    @property
    def nsg_name(self) -> str:
        return f"{self.name}-nsg"

    @property
    def lb_id(self) -> str:
        return f"{group_id(self.api)}/providers/Microsoft.Network/loadBalancers/{self.lb_name}"

    def child(self, kind: str, name: str) -> str:
        return f"{self.lb_id}/{kind}/{name}"

    @property
    def probe_id(self) -> str:
        return self.child("probes", PROBE)

    @property
    def pool_id(self) -> str:
        return self.child("backendAddressPools", POOL)

    @property
    def tags(self) -> dict[str, str]:
        return lk_tags.spell(lk_tags.standard(extra={lk_tags.FLEET: self.name}), lk_tags.Style.TAGS)


def rule_name(port: int) -> str:
    return f"port-{port}"


def body(fleet: Fleet, ip_id: str, health: HealthCheck, ports: tuple[int, ...]) -> dict[str, object]:
    frontend = {"id": fleet.child("frontendIPConfigurations", FRONTEND)}
    rules = [{"name": rule_name(port), "properties": {
        "frontendIPConfiguration": frontend, "backendAddressPool": {"id": fleet.pool_id},
        "probe": {"id": fleet.probe_id}, "protocol": "Tcp", "frontendPort": port, "backendPort": port,
        "enableFloatingIP": False, "idleTimeoutInMinutes": 4, "disableOutboundSnat": True}} for port in ports]
    return {"location": fleet.api.config.location, "tags": fleet.tags, "sku": {"name": "Standard", "tier": "Regional"},
            "properties": {
                "frontendIPConfigurations": [{"name": FRONTEND, "properties": {"publicIPAddress": {"id": ip_id}}}],
                "backendAddressPools": [{"name": POOL}],
                "probes": [{"name": PROBE, "properties": {
                    "protocol": "Http", "port": health.port, "requestPath": health.path,
                    "intervalInSeconds": max(MIN_INTERVAL, int(health.interval_seconds)),
                    "probeThreshold": PROBE_THRESHOLD}}],
                "loadBalancingRules": rules,
                "outboundRules": [{"name": OUTBOUND, "properties": {
                    "frontendIPConfigurations": [frontend], "backendAddressPool": {"id": fleet.pool_id},
                    "protocol": "All", "enableTcpReset": True, "idleTimeoutInMinutes": 4}}]}}


def create(fleet: Fleet, health: HealthCheck, ports: tuple[int, ...], reporter: Reporter = NULL) -> str:
    """The public IP, load balancer and NSG of a fleet; returns the NSG's id."""
    api = fleet.api
    ip_id = network.public_ip(api, fleet.ip_name, reporter, fleet.tags)
    reporter.step(f"creating load balancer {fleet.lb_name} (probe {health.path} on {health.port})")
    api.operation(f"creating load balancer {fleet.lb_name}", api.clients.network.load_balancers.begin_create_or_update,
                  api.group, fleet.lb_name, body(fleet, ip_id, health, ports))
    return network.nsg(api, fleet.nsg_name, ports, fleet.tags, reporter)


def delete(fleet: Fleet, reporter: Reporter = NULL) -> None:
    """What :func:`create` made, in the order Azure lets it go (the scale set is gone already)."""
    network.delete(fleet.api, "load_balancers", fleet.lb_name, reporter)
    network.delete(fleet.api, "public_ip_addresses", fleet.ip_name, reporter)
    network.delete(fleet.api, "network_security_groups", fleet.nsg_name, reporter)


def health(fleet: Fleet) -> dict[str, Health]:
    """Instance id -> health, as the load balancer's probe sees it through the fleet's first rule."""
    api = fleet.api
    found = api.find(f"reading load balancer {fleet.lb_name}", api.clients.network.load_balancers.get, api.group,
                     fleet.lb_name)
    rules = doc(found).get("properties", {}).get("loadBalancingRules", [])
    if not rules:
        return {}
    answer = api.operation(f"reading the probe's view of {fleet.name}",
                           api.clients.network.load_balancer_load_balancing_rules.begin_health, api.group,
                           fleet.lb_name, rules[0]["name"]) or {}
    states: dict[str, Health] = {}
    for backend in answer.get("loadBalancerBackendAddresses", []):
        parts = str(backend.get("networkInterfaceIPConfigurationId", "")).split("/")
        lowered = [p.lower() for p in parts]
        if "virtualmachines" in lowered:
            instance = parts[lowered.index("virtualmachines") + 1]
            states[instance] = Health.HEALTHY if backend.get("state") == "Up" else Health.UNHEALTHY
    return states
