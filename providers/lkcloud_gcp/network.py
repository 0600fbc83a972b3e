"""What a fleet needs so that GCE can judge its instances: an HTTP health check on the fleet's
health path and port (the group's autohealing policy points at it), and a firewall rule that
lets Google's health-check probes in. Both are named after the fleet and deleted with it.

Probes come from 35.191.0.0/16 and 130.211.0.0/22; without a rule for them every probe times
out and no instance is ever healthy.
https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges
"""

from __future__ import annotations

from typing import Any

from google.cloud import compute_v1

from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import HealthCheck
from lkcloud_gcp import operations
from lkcloud_gcp.calls import call, find, request_id
from lkcloud_gcp.clients import Api

PROBE_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
THRESHOLD = 2  # consecutive probes that make an instance healthy, or unhealthy (GCE's default)


def fleet_tag(fleet: str) -> str:
    """The network tag a fleet's instances carry (the firewall rule targets it)."""
    return f"lkcloud-{fleet}"[:63].rstrip("-")


def health_check_name(fleet: str) -> str:
    return f"{fleet[:56]}-health"


def firewall_name(fleet: str) -> str:
    return f"{fleet[:50]}-allow-health"


def health_check_body(fleet: str, health: HealthCheck) -> Any:
    interval = max(1, round(health.interval_seconds))
    return compute_v1.HealthCheck(
        name=health_check_name(fleet), description=f"lkcloud fleet {fleet}", type_="HTTP",
        http_health_check=compute_v1.HTTPHealthCheck(port=health.port, request_path=health.path),
        check_interval_sec=interval, timeout_sec=min(interval, max(1, round(health.timeout_seconds))),
        healthy_threshold=THRESHOLD, unhealthy_threshold=THRESHOLD)


def firewall_body(fleet: str, port: int, network: str) -> Any:
    return compute_v1.Firewall(
        name=firewall_name(fleet), description=f"lkcloud fleet {fleet}: Google's health-check probes",
        network=network, direction="INGRESS", source_ranges=list(PROBE_RANGES), target_tags=[fleet_tag(fleet)],
        allowed=[compute_v1.Allowed(I_p_protocol="tcp", ports=[str(port)])])


def _ensure(api: Api, what: str, client: Any, key: dict[str, Any], request: Any, *, reporter: Reporter) -> str:
    """The self link of the resource ``key`` names, inserted with ``request`` unless it exists."""
    found = find(api, what, client.get, project=api.project, **key)
    if found is None:
        reporter.step(f"creating {what}")
        op = call(api, f"creating {what}", client.insert_unary, request=request)
        operations.wait(api, op, what, reporter)
        found = call(api, what, client.get, project=api.project, **key)
    return str(found.self_link)


def ensure(api: Api, fleet: str, health: HealthCheck, reporter: Reporter = NULL) -> str:
    """The fleet's health check and firewall rule, made unless they exist; the check's link."""
    rule, check = firewall_name(fleet), health_check_name(fleet)
    _ensure(api, f"firewall rule {rule}", api.clients.firewalls, {"firewall": rule}, compute_v1.InsertFirewallRequest(
        project=api.project, firewall_resource=firewall_body(fleet, health.port, api.config.network),
        request_id=request_id()), reporter=reporter)
    return _ensure(api, f"health check {check}", api.clients.health_checks, {"health_check": check},
                   compute_v1.InsertHealthCheckRequest(project=api.project, request_id=request_id(),
                                                       health_check_resource=health_check_body(fleet, health)),
                   reporter=reporter)


def autohealing(link: str, health: HealthCheck) -> Any:
    return compute_v1.InstanceGroupManagerAutoHealingPolicy(health_check=link,
                                                            initial_delay_sec=round(health.grace_seconds))


def health_window(api: Api, group: Any) -> float | None:
    """Seconds a new instance may take to turn healthy: the autohealing delay, then enough
    probes to judge it; None when the group has no health check."""
    if not group.auto_healing_policies:
        return None
    policy = group.auto_healing_policies[0]
    check = find(api, "the fleet's health check", api.clients.health_checks.get, project=api.project,
                 health_check=operations.last(policy.health_check))
    if check is None:
        return None
    probes = check.check_interval_sec * (check.healthy_threshold + check.unhealthy_threshold) + check.timeout_sec
    return float(policy.initial_delay_sec + probes)


def delete(api: Api, fleet: str, reporter: Reporter = NULL) -> None:
    """Delete the fleet's health check and firewall rule (after its group: the check is in use)."""
    for what, client, field, name in (
            ("health check", api.clients.health_checks, "health_check", health_check_name(fleet)),
            ("firewall rule", api.clients.firewalls, "firewall", firewall_name(fleet))):
        op = find(api, f"deleting {what} {name}", client.delete_unary, project=api.project, **{field: name})
        if op is not None:
            operations.wait(api, op, f"deleting {what} {name}", reporter)
