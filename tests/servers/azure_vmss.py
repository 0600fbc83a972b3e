"""Scale-set behaviour for the fake Resource Manager: instances, model versions and rolling
upgrades that advance one batch per ``rollingUpgrades/latest`` GET."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Upgrade:
    started: str
    batch: int  # instances per batch
    fail: bool = False
    code: str = "RollingForward"
    ended: str | None = None


@dataclass
class ScaleSet:
    """What the fake knows about one scale set beyond its resource body."""

    id: str
    name: str
    model: int = 1
    instances: dict[str, int] = field(default_factory=dict)  # instance id -> model version it runs
    next_id: int = 0
    upgrade: Upgrade | None = None

    def resize(self, capacity: int) -> None:
        while len(self.instances) < capacity:
            self.instances[str(self.next_id)] = self.model
            self.next_id += 1
        for instance_id in sorted(self.instances, key=int, reverse=True)[: max(len(self.instances) - capacity, 0)]:
            del self.instances[instance_id]

    def new_model(self, policy: Json, fail: bool) -> None:
        """The model changed: a Rolling scale set starts an upgrade on its own."""
        self.model += 1
        percent = int(policy.get("maxBatchInstancePercent") or 20)
        self.upgrade = Upgrade(started=now(), batch=max(1, math.ceil(len(self.instances) * percent / 100)), fail=fail)
        if not self.instances:
            self.upgrade.code, self.upgrade.ended = "Completed", now()

    def advance(self) -> None:
        """One batch moves to the latest model (or the upgrade faults on its first batch)."""
        upgrade = self.upgrade
        if upgrade is None or upgrade.code != "RollingForward":
            return
        if upgrade.fail:
            upgrade.code, upgrade.ended = "Faulted", now()
            return
        old = sorted((i for i, m in self.instances.items() if m != self.model), key=int)
        for instance_id in old[: upgrade.batch]:
            self.instances[instance_id] = self.model
        if all(m == self.model for m in self.instances.values()):
            upgrade.code, upgrade.ended = "Completed", now()

    def latest(self) -> Json | None:
        upgrade = self.upgrade
        if upgrade is None:
            return None
        done = sum(1 for m in self.instances.values() if m == self.model)
        failed = 1 if upgrade.code == "Faulted" else 0
        status: Json = {"code": upgrade.code, "startTime": upgrade.started}
        if upgrade.ended:
            status["lastAction"] = "Start"
        body: Json = {
            "id": f"{self.id}/rollingUpgrades/latest",
            "name": "latest",
            "type": "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades",
            "location": "westeurope",
            "properties": {
                "runningStatus": status,
                "progress": {"successfulInstanceCount": done, "failedInstanceCount": failed,
                             "inProgressInstanceCount": 0 if upgrade.ended else min(upgrade.batch, len(self.instances)),
                             "pendingInstanceCount": len(self.instances) - done - failed},
            },
        }
        if upgrade.code == "Faulted":
            body["properties"]["error"] = {"code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade",
                                           "message": "the rolling upgrade exceeded the unhealthy limit (fake)"}
        return body

    def vms(self, healthy: bool = True) -> list[Json]:
        health = "HealthState/healthy" if healthy else "HealthState/unhealthy"
        return [{
            "id": f"{self.id}/virtualMachines/{instance_id}",
            "name": f"{self.name}_{instance_id}",
            "instanceId": instance_id,
            "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
            "location": "westeurope",
            "properties": {"latestModelApplied": model == self.model, "provisioningState": "Succeeded",
                           "instanceView": {"vmHealth": {"status": {"code": health}}}},
        } for instance_id, model in sorted(self.instances.items(), key=lambda item: int(item[0]))]
