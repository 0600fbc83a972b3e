"""The fake Compute API's plain resources: images, instance templates, instances (with serial
port output), HTTP health checks and firewall rules. Mixed into
:class:`tests.servers.fake_compute.FakeCompute`, whose plumbing (``operation``, ``link``,
``stamp``) they use."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from tests.servers.fake_compute_state import ApiError, Json, in_use, last, not_found

NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# Google's health-check probes come from these ranges; a firewall rule must let them in.
# https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges
PROBE_RANGES = (ipaddress.ip_network("35.191.0.0/16"), ipaddress.ip_network("130.211.0.0/22"))
METADATA_VALUE_MAX = 256 * 1024  # bytes of one metadata value
Route = tuple[str, str, Callable[..., Json]]


def boot_log(name: str) -> list[str]:
    """What an lkcloud instance writes to its serial port while it boots, a line at a time."""
    return ["SeaBIOS (version 1.8.2)", "Booting from Hard Disk 0...", "Linux version 6.6.71 (lkcloud)",
            "Run /init as init process", f"{name}: Welcome to LinuxKit", f"{name}: service ready"]


def _valid_name(name: str, what: str = "resource.name") -> None:
    if not NAME.match(name or ""):
        raise ApiError(400, f"Invalid value for field '{what}': '{name}'. Must be a match of regex "
                            "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")


def _ports(rule: Json, port: int) -> bool:
    for allowed in rule.get("allowed", []):
        if allowed.get("IPProtocol") not in ("tcp", "all"):
            continue
        ranges = allowed.get("ports") or ["0-65535"]
        for item in ranges:
            low, _, high = str(item).partition("-")
            if int(low) <= port <= int(high or low):
                return True
    return False


class ResourcesMixin:
    """Images, templates, instances, health checks and firewall rules."""

    operation: Callable[..., Json]
    replayed: Callable[[dict[str, list[str]]], Json | None]
    link: Callable[[str, str], str]
    stamp: Callable[[], tuple[str, str]]
    groups: dict[tuple[str, str], Json]
    fail_next_image: bool
    image_seconds: float

    def setup_resources(self) -> None:
        self.images: dict[str, Json] = {}
        self.templates: dict[str, Json] = {}
        self.instances: dict[tuple[str, str], Json] = {}
        self.health_checks: dict[str, Json] = {}
        self.firewalls: dict[str, Json] = {}
        self.serial: dict[tuple[str, str], int] = {}  # lines of the boot log an instance has written

    def resource_routes(self) -> list[Route]:
        img, tpl = r"global/images", r"global/instanceTemplates"
        ins = r"zones/(?P<zone>[^/]+)/instances"
        hc, fw = r"global/healthChecks", r"global/firewalls"
        one = r"/(?P<name>[^/]+)"
        return [
            ("POST", img, self.image_insert), ("GET", img, self.image_list),
            ("GET", img + r"/family/(?P<family>[^/]+)", self.image_family),
            ("GET", img + one, self.image_get), ("DELETE", img + one, self.image_delete),
            ("POST", img + one + r"/deprecate", self.image_deprecate),
            ("POST", tpl, self.template_insert), ("GET", tpl, self.template_list),
            ("GET", tpl + one, self.template_get), ("DELETE", tpl + one, self.template_delete),
            ("POST", ins, self.instance_insert), ("GET", ins, self.instance_list),
            ("GET", ins + one, self.instance_get), ("DELETE", ins + one, self.instance_delete),
            ("GET", ins + one + r"/serialPort", self.serial_port),
            ("POST", hc, self.health_check_insert), ("GET", hc, self.health_check_list),
            ("GET", hc + one, self.health_check_get), ("DELETE", hc + one, self.health_check_delete),
            ("POST", fw, self.firewall_insert), ("GET", fw, self.firewall_list),
            ("GET", fw + one, self.firewall_get), ("DELETE", fw + one, self.firewall_delete),
        ]

    def _insert(self, table: dict[str, Json], project: str, collection: str, body: Json, *,
                query: dict[str, list[str]], extra: Json | None = None, **options: Any) -> Json:
        """Insert a global resource named in ``body`` (409 if it exists, unless a replay)."""
        name = body.get("name", "")
        _valid_name(name)
        target = self.link(project, f"global/{collection}/{name}")
        if name in table and self.replayed(query) is None:
            raise ApiError(409, f"The resource '{target}' already exists", "alreadyExists")

        def effect() -> None:
            made_id, stamp = self.stamp()
            table[name] = {**body, "id": made_id, "creationTimestamp": stamp, "selfLink": target, **(extra or {})}

        return self.operation(project, "global", kind="insert", target=target, query=query, effect=effect, **options)

    def _delete(self, table: dict[str, Json], project: str, kind: str, name: str,
                query: dict[str, list[str]]) -> Json:
        if name not in table:
            raise not_found(kind, name)
        return self.operation(project, "global", kind="delete", target=table[name]["selfLink"], query=query,
                              effect=lambda: table.pop(name, None))

    @staticmethod
    def _get(table: dict[str, Json], kind: str, name: str) -> Json:
        if name not in table:
            raise not_found(kind, name)
        return table[name]

    # -- images: PENDING while imported, then READY or FAILED ------------------------------
    def image_insert(self, project: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        if body.get("family"):
            _valid_name(body["family"], "resource.family")
        name, failing = body.get("name", ""), self.fail_next_image
        if self.replayed(query) is None:
            self.fail_next_image = False

        def imported(failed: bool) -> None:
            if name in self.images:
                self.images[name]["status"] = "FAILED" if failed else "READY"

        return self._insert(self.images, project, "images", body, query=query,
                            extra={"status": "PENDING", "kind": "compute#image"}, seconds=self.image_seconds,
                            on_done=imported, error="IMAGE_IMPORT_FAILED" if failing else None)

    def image_get(self, name: str, **_: Any) -> Json:
        return self._get(self.images, "images", name)

    def image_list(self, query: dict[str, list[str]], **_: Any) -> Json:
        wanted = re.fullmatch(r"labels\.([-\w]+) = (\S+)", (query.get("filter") or [""])[0])
        found = [i for i in self.images.values() if not wanted or i.get("labels", {}).get(wanted[1]) == wanted[2]]
        return {"items": found}

    def image_family(self, family: str, **_: Any) -> Json:
        live = [i for i in self.images.values()
                if i.get("family") == family and not i.get("deprecated") and i["status"] == "READY"]
        if not live:
            raise not_found("family", family)
        return max(live, key=lambda i: i["creationTimestamp"])

    def image_delete(self, project: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        return self._delete(self.images, project, "images", name, query)

    def image_deprecate(self, project: str, name: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        image = self.image_get(name)
        return self.operation(project, "global", kind="deprecate", target=image["selfLink"], query=query,
                              effect=lambda: image.update(deprecated=body))

    # -- instance templates ---------------------------------------------------------------
    def template_insert(self, project: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        return self._insert(self.templates, project, "instanceTemplates", body, query=query)

    def template_get(self, name: str, **_: Any) -> Json:
        return self._get(self.templates, "instanceTemplates", name)

    def template_list(self, **_: Any) -> Json:
        return {"items": list(self.templates.values())}

    def template_delete(self, project: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        users = [g["name"] for g in self.groups.values()
                 if name in {last(v["instanceTemplate"]) for v in g["versions"]}]
        if users and name in self.templates:
            raise in_use("instance_template", name, users[0])
        return self._delete(self.templates, project, "instanceTemplates", name, query)

    # -- instances ------------------------------------------------------------------------
    def instance_insert(self, project: str, zone: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        name = body.get("name", "")
        _valid_name(name)
        target = self.link(project, f"zones/{zone}/instances/{name}")
        for item in body.get("metadata", {}).get("items", []):
            if len(str(item.get("value", "")).encode()) > METADATA_VALUE_MAX:
                raise ApiError(400, f"Value for metadata key '{item.get('key')}' exceeds 256 KB")
        if (zone, name) in self.instances and self.replayed(query) is None:
            raise ApiError(409, f"The resource '{target}' already exists", "alreadyExists")

        def effect() -> None:
            instance_id, stamp = self.stamp()
            self.instances[(zone, name)] = {**body, "id": instance_id, "creationTimestamp": stamp,
                                            "selfLink": target, "status": "RUNNING",
                                            "zone": self.link(project, f"zones/{zone}"),
                                            "networkInterfaces": [{"networkIP": "10.128.0.2",
                                                                   "accessConfigs": [{"natIP": "203.0.113.7"}]}]}
            self.serial[(zone, name)] = 0

        return self.operation(project, f"zones/{zone}", kind="insert", target=target, query=query, effect=effect)

    def instance_get(self, zone: str, name: str, **_: Any) -> Json:
        if (zone, name) not in self.instances:
            raise not_found("instances", name)
        return self.instances[(zone, name)]

    def instance_list(self, zone: str, **_: Any) -> Json:
        return {"items": [i for (z, _n), i in self.instances.items() if z == zone]}

    def instance_delete(self, project: str, zone: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        instance = self.instance_get(zone, name)
        return self.operation(project, f"zones/{zone}", kind="delete", target=instance["selfLink"], query=query,
                              effect=lambda: self.instances.pop((zone, name), None))

    def serial_port(self, zone: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        """Output from ``start`` on; ``next`` is where the next read starts. The instance writes
        one more boot line each time it is read (its boot goes on while we poll). Reading needs
        no metadata: serial-port-enable is for interactive access only.
        https://cloud.google.com/compute/docs/instances/viewing-serial-port-output"""
        self.instance_get(zone, name)
        lines = boot_log(name)
        self.serial[(zone, name)] = min(len(lines), self.serial.get((zone, name), 0) + 1)
        written = "".join(line + "\n" for line in lines[: self.serial[(zone, name)]])
        start = min(int((query.get("start") or ["0"])[0]), len(written))
        return {"kind": "compute#serialPortOutput", "contents": written[start:], "start": str(start),
                "next": str(len(written))}

    # -- health checks and firewall rules -------------------------------------------------
    def health_check_insert(self, project: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        http = body.get("httpHealthCheck") or {}
        interval, timeout = int(body.get("checkIntervalSec", 5)), int(body.get("timeoutSec", 5))
        if body.get("type") != "HTTP" or not 1 <= int(http.get("port", 80)) <= 65535:
            raise ApiError(400, "Invalid value for field 'resource.type': an HTTP health check needs a port")
        if not str(http.get("requestPath", "/")).startswith("/"):
            raise ApiError(400, f"Invalid value for field 'resource.httpHealthCheck.requestPath': "
                                f"'{http.get('requestPath')}'")
        if interval < 1 or timeout < 1 or timeout > interval:
            raise ApiError(400, "timeoutSec must be at least 1 and at most checkIntervalSec")
        return self._insert(self.health_checks, project, "healthChecks", body, query=query)

    def health_check_get(self, name: str, **_: Any) -> Json:
        return self._get(self.health_checks, "healthChecks", name)

    def health_check_list(self, **_: Any) -> Json:
        return {"items": list(self.health_checks.values())}

    def health_check_delete(self, project: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        users = [g["name"] for g in self.groups.values()
                 if name in {last(p.get("healthCheck", "")) for p in g.get("autoHealingPolicies", [])}]
        if users and name in self.health_checks:
            raise in_use("health_check", name, users[0])
        return self._delete(self.health_checks, project, "healthChecks", name, query)

    def firewall_insert(self, project: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        try:
            for source in body.get("sourceRanges", []):
                ipaddress.ip_network(source)
        except ValueError as exc:
            raise ApiError(400, f"Invalid value for field 'resource.sourceRanges': {exc}") from None
        if not body.get("allowed") and not body.get("denied"):
            raise ApiError(400, "Required field 'resource.allowed' not specified")
        return self._insert(self.firewalls, project, "firewalls", body, query=query,
                            extra={"direction": body.get("direction", "INGRESS"),
                                   "network": body.get("network", "global/networks/default")})

    def firewall_get(self, name: str, **_: Any) -> Json:
        return self._get(self.firewalls, "firewalls", name)

    def firewall_list(self, **_: Any) -> Json:
        return {"items": list(self.firewalls.values())}

    def firewall_delete(self, project: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        return self._delete(self.firewalls, project, "firewalls", name, query)

    def probes_allowed(self, network: str, tags: list[str], port: int) -> bool:
        """Whether an ingress rule lets Google's probe ranges reach ``port`` on an instance."""
        for rule in self.firewalls.values():
            if rule.get("disabled") or rule["direction"] != "INGRESS" or last(rule["network"]) != last(network):
                continue
            if rule.get("targetTags") and not set(rule["targetTags"]) & set(tags):
                continue
            sources = [ipaddress.ip_network(s) for s in rule.get("sourceRanges", [])]
            covered = all(any(probe.subnet_of(s) for s in sources if s.version == 4) for probe in PROBE_RANGES)
            if covered and _ports(rule, port):
                return True
        return False
