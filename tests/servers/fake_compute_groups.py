"""Regional managed instance groups in the fake Compute API, as GCE runs them where lkcloud
depends on it. Mixed into :class:`tests.servers.fake_compute.FakeCompute`.

- The update policy is validated as for regional groups: a fixed maxSurge or maxUnavailable is
  0 or at least the number of zones the group spans (three by default), percentages need a group
  of at least 10 instances, and fixed values may not both be 0.
  https://cloud.google.com/compute/docs/instance-groups/regional-migs#updating_a_regional_managed_instance_group
  https://cloud.google.com/compute/docs/instance-groups/rolling-out-updates-to-managed-instance-groups#max_surge
- A group moves one step each time it is read (the fake's time): it creates missing or surge
  instances, and removes an outdated one only while enough others are available; with an
  autohealing health check, a new instance is available only once the check reports it HEALTHY,
  so a rollout onto an image that fails its check stalls with the old instances serving.
  https://cloud.google.com/compute/docs/instance-groups/autohealing-instances-in-migs
- Instance health comes from the HTTP health check: TIMEOUT unless a firewall rule lets Google's
  probe ranges reach the check's port, UNHEALTHY when the image does not answer the check's path
  (``unhealthy_images``, ``serving``), else HEALTHY; unknown for the first ``health_ticks`` steps.
  Autohealing recreates an instance seen unhealthy, so such a group is never stable.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.servers.fake_compute_state import ApiError, Json, last, not_found, version_size

Route = tuple[str, str, Callable[..., Json]]
ZONE_LETTERS = "bcd"


def policy_values(policy: Json, zones: int, size: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as instance counts, refused (400) as GCE refuses them."""
    values = []
    for key in ("maxSurge", "maxUnavailable"):
        given = policy.get(key) or {"fixed": zones}  # GCE's default: the number of zones
        if "percent" in given:
            if size < 10:
                raise ApiError(400, f"Invalid value for field 'resource.updatePolicy.{key}.percent': "
                                    f"'{given['percent']}'. Percent value is only allowed for regional managed "
                                    "instance groups with size at least 10.")
            values.append(math.ceil(int(given["percent"]) * size / 100))
            continue
        fixed = int(given.get("fixed", 0))
        if 0 < fixed < zones:
            raise ApiError(400, f"Invalid value for field 'resource.updatePolicy.{key}.fixed': '{fixed}'. Fixed "
                                f"updatePolicy.{key} for regional managed instance group has to be either 0 or at "
                                f"least equal to the number of zones ({zones}).")
        values.append(fixed)
    if values == [0, 0]:
        raise ApiError(400, "Invalid value for field 'resource.updatePolicy': at least one of maxSurge and "
                            "maxUnavailable must be greater than 0.")
    if policy.get("replacementMethod") == "RECREATE" and values[0]:
        raise ApiError(400, "Invalid value for field 'resource.updatePolicy.maxSurge': the RECREATE replacement "
                            "method needs maxSurge 0.")
    return values[0], values[1]


class GroupsMixin:
    """Regional managed instance groups: validation, rolling updates, health, autohealing."""

    operation: Callable[..., Json]
    replayed: Callable[[dict[str, list[str]]], Json | None]
    link: Callable[[str, str], str]
    stamp: Callable[[], tuple[str, str]]
    templates: dict[str, Json]
    health_checks: dict[str, Json]
    probes_allowed: Callable[[str, list[str], int], bool]

    def setup_groups(self) -> None:
        self.groups: dict[tuple[str, str], Json] = {}
        self.members: dict[tuple[str, str], list[Json]] = {}
        self.unhealthy_images: set[str] = set()  # images whose service fails its health check
        self.serving = (8080, "/healthz")  # where lkcloud images answer health checks
        self.health_ticks = 1  # steps a new instance's health stays UNKNOWN
        self._member_ids = itertools.count(1)

    def group_routes(self) -> list[Route]:
        mig = r"regions/(?P<region>[^/]+)/instanceGroupManagers"
        one = mig + r"/(?P<name>[^/]+)"
        return [
            ("POST", mig, self.group_insert), ("GET", mig, self.group_list), ("GET", one, self.group_get),
            ("PATCH", one, self.group_patch), ("DELETE", one, self.group_delete),
            ("POST", one + r"/resize", self.group_resize), ("POST", one + r"/listManagedInstances", self.group_members),
        ]

    # -- validation -----------------------------------------------------------------------
    def _validate(self, group: Json) -> None:
        for index, version in enumerate(group["versions"]):
            if last(version.get("instanceTemplate", "")) not in self.templates:
                raise ApiError(400, f"Invalid value for field 'resource.versions[{index}].instanceTemplate': "
                                    f"'{version.get('instanceTemplate')}'. The template does not exist.")
        policy_values(group.get("updatePolicy") or {}, len(group["distributionPolicy"]["zones"]),
                      int(group["targetSize"]))
        for policy in group.get("autoHealingPolicies") or []:
            if last(policy.get("healthCheck", "")) not in self.health_checks:
                raise ApiError(400, "Invalid value for field 'resource.autoHealingPolicies[0].healthCheck': "
                                    f"'{policy.get('healthCheck')}'. The health check does not exist.")
            if not 0 <= int(policy.get("initialDelaySec", 300)) <= 3600:
                raise ApiError(400, "initialDelaySec must be from range [0, 3600]")

    def _group(self, region: str, name: str) -> Json:
        if (region, name) not in self.groups:
            raise not_found("instanceGroupManagers", name)
        return self.groups[(region, name)]

    # -- health -----------------------------------------------------------------------------
    def health(self, group: Json, member: Json) -> str | None:
        """The member's detailedHealthState, or None when the group has no health check."""
        policies = group.get("autoHealingPolicies") or []
        if not policies:
            return None
        check = self.health_checks.get(last(policies[0].get("healthCheck", "")))
        template = self.templates.get(last(member["template"]))
        if check is None or template is None or member["age"] < self.health_ticks:
            return "UNKNOWN"
        props = template["properties"]
        http = check.get("httpHealthCheck", {})
        port, path = int(http.get("port", 80)), http.get("requestPath", "/")
        network = (props.get("networkInterfaces") or [{}])[0].get("network", "global/networks/default")
        if not self.probes_allowed(network, props.get("tags", {}).get("items", []), port):
            return "TIMEOUT"  # the probes are dropped
        image = last(props["disks"][0]["initializeParams"]["sourceImage"])
        return "UNHEALTHY" if image in self.unhealthy_images or (port, path) != self.serving else "HEALTHY"

    def _available(self, group: Json, member: Json) -> bool:
        return member["age"] > 0 and self.health(group, member) in (None, "HEALTHY")

    # -- one step of the group's life ---------------------------------------------------------
    def _plan(self, group: Json) -> dict[str, int]:
        size = int(group["targetSize"])
        sized = {v["instanceTemplate"]: version_size(v["targetSize"], size)
                 for v in group["versions"] if v.get("targetSize")}
        rest = [v["instanceTemplate"] for v in group["versions"] if not v.get("targetSize")]
        if rest:
            sized[rest[0]] = sized.get(rest[0], 0) + max(0, size - sum(sized.values()))
        return sized

    def _new_member(self, group: Json, template: str, index: int) -> Json:
        zones = group["distributionPolicy"]["zones"]
        zone = last(zones[index % len(zones)])
        name = f"{group['baseInstanceName']}-{next(self._member_ids):04x}"
        return {"instance": self.link(group["project"], f"zones/{zone}/instances/{name}"), "id": self.stamp()[0],
                "template": template, "age": 0, "currentAction": "CREATING"}

    def _step(self, key: tuple[str, str]) -> None:
        group, members = self.groups[key], self.members.setdefault(key, [])
        for member in members:
            member["age"] += 1
            member["currentAction"] = "NONE"
            if member["age"] > self.health_ticks and self.health(group, member) in ("UNHEALTHY", "TIMEOUT"):
                member.update(age=0, currentAction="RECREATING")  # autohealing
        plan, size = self._plan(group), int(group["targetSize"])
        surge, unavailable = policy_values(group.get("updatePolicy") or {}, len(group["distributionPolicy"]["zones"]),
                                           size)
        counts = Counter(m["template"] for m in members)
        stale = [m for t in counts for m in [m for m in members if m["template"] == t][plan.get(t, 0):]]
        missing = [t for t, wanted in plan.items() for _ in range(max(0, wanted - counts[t]))]
        for template in missing[: max(0, size + surge - len(members))]:  # surge: instances above the size
            members.append(self._new_member(group, template, len(members)))
        for member in stale:  # an outdated instance goes only while enough others serve
            others = sum(self._available(group, m) for m in members if m is not member)
            if others >= size - unavailable:
                members.remove(member)

    def group_view(self, key: tuple[str, str]) -> Json:
        group, members = dict(self.groups[key]), self.members.get(key, [])
        plan = self._plan(group)
        reached = Counter(m["template"] for m in members) == Counter({t: n for t, n in plan.items() if n})
        stable = reached and all(m["currentAction"] == "NONE" for m in members)
        group["status"] = {"isStable": stable, "versionTarget": {"isReached": reached}}
        actions = Counter(m["currentAction"].lower() for m in members)
        group["currentActions"] = {action: actions.get(action, 0) for action in ("none", "creating", "recreating")}
        return group

    # -- the API ----------------------------------------------------------------------------
    def group_insert(self, project: str, region: str, body: Json, query: dict[str, list[str]], **_: Any) -> Json:
        key = (region, body.get("name", ""))
        target = self.link(project, f"regions/{region}/instanceGroupManagers/{key[1]}")
        zones = (body.get("distributionPolicy") or {}).get("zones") or [
            {"zone": self.link(project, f"zones/{region}-{letter}")} for letter in ZONE_LETTERS]
        group = {**body, "versions": body.get("versions") or [{"instanceTemplate": body.get("instanceTemplate")}],
                 "distributionPolicy": {"zones": [z["zone"] if isinstance(z, dict) else z for z in zones]},
                 "targetSize": int(body.get("targetSize", 0)), "selfLink": target, "project": project,
                 "region": self.link(project, f"regions/{region}"), "fingerprint": "f0"}
        if key in self.groups and self.replayed(query) is None:
            raise ApiError(409, f"The resource '{target}' already exists", "alreadyExists")
        self._validate(group)

        def effect() -> None:
            self.groups[key] = {**group, "id": self.stamp()[0]}
            self.members[key] = []

        return self.operation(project, f"regions/{region}", kind="insert", target=target, query=query, effect=effect)

    def group_get(self, region: str, name: str, **_: Any) -> Json:
        self._group(region, name)
        self._step((region, name))
        return self.group_view((region, name))

    def group_list(self, region: str, **_: Any) -> Json:
        return {"items": [self.group_view(k) for k in self.groups if k[0] == region]}

    def group_patch(self, project: str, region: str, name: str, body: Json, query: dict[str, list[str]],
                    **_: Any) -> Json:
        group = self._group(region, name)
        changed = {**group, **{k: v for k, v in body.items()
                               if k in ("versions", "updatePolicy", "autoHealingPolicies", "targetSize")}}
        self._validate(changed)

        def effect() -> None:
            group.update(changed, fingerprint=f"f{self.stamp()[0]}")

        return self.operation(project, f"regions/{region}", kind="patch", target=group["selfLink"], query=query,
                              effect=effect)

    def group_resize(self, project: str, region: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        group = self._group(region, name)
        return self.operation(project, f"regions/{region}", kind="resize", target=group["selfLink"], query=query,
                              effect=lambda: group.update(targetSize=int(query["size"][0])))

    def group_members(self, region: str, name: str, **_: Any) -> Json:
        group = self._group(region, name)
        found = []
        for member in self.members.get((region, name), []):
            version = next((v for v in group["versions"] if v["instanceTemplate"] == member["template"]), {})
            item = {"instance": member["instance"], "id": member["id"], "currentAction": member["currentAction"],
                    "instanceStatus": "RUNNING" if member["age"] else "PROVISIONING",
                    "version": {"instanceTemplate": member["template"], "name": version.get("name", "")}}
            state = self.health(group, member)
            if state is not None:
                item["instanceHealth"] = [{"healthCheck": group["autoHealingPolicies"][0]["healthCheck"],
                                           "detailedHealthState": state}]
            found.append(item)
        return {"managedInstances": found}

    def group_delete(self, project: str, region: str, name: str, query: dict[str, list[str]], **_: Any) -> Json:
        group = self._group(region, name)

        def effect() -> None:
            self.groups.pop((region, name), None)
            self.members.pop((region, name), None)

        return self.operation(project, f"regions/{region}", kind="delete", target=group["selfLink"], query=query,
                              effect=effect)
