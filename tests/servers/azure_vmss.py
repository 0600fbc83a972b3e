"""Scale-set behaviour for the fake Resource Manager: instances, the model each runs, and rolling
upgrades that advance one batch per ``rollingUpgrades/latest`` GET.

As Microsoft documents it ("Configure rolling upgrades on Virtual Machine Scale Sets",
https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-configure-rolling-upgrades;
the ``RollingUpgradePolicy`` REST reference): a Uniform scale set in Rolling mode needs a load
balancer health probe or the Application Health extension; a model change starts an upgrade of
``maxBatchInstancePercent`` of the instances per batch; after each batch, more than
``maxUnhealthyUpgradedInstancePercent`` unhealthy upgraded instances fault the upgrade, and with
``rollbackFailedInstancesOnPolicyBreach`` the failed instances go back to the previous model. An
instance runs the latest model when what it runs equals the scale set's model.

Health comes from the caller (the fake's network model): an instance's health is its load
balancer probe's answer, or nothing at all when only an extension could report it and the image
has no Azure Linux agent to run that extension.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
Healthy = Callable[[str, Json], bool | None]  # (instance id, model it runs) -> up, down or unknown


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Upgrade:
    started: str
    batch: int  # instances per batch
    previous: Json  # the model the instances ran before
    max_unhealthy_upgraded: int = 20
    rollback: bool = False
    code: str = "RollingForward"
    ended: str | None = None
    failed: int = 0


@dataclass
class ScaleSet:
    """What the fake knows about one scale set beyond its resource body."""

    id: str
    name: str
    model: Json = field(default_factory=dict)  # what a new instance runs: image and user data
    instances: dict[str, Json] = field(default_factory=dict)  # instance id -> the model it runs
    next_id: int = 0
    upgrade: Upgrade | None = None

    def resize(self, capacity: int) -> None:
        while len(self.instances) < capacity:
            self.instances[str(self.next_id)] = dict(self.model)
            self.next_id += 1
        for instance_id in sorted(self.instances, key=int, reverse=True)[: max(len(self.instances) - capacity, 0)]:
            del self.instances[instance_id]

    def new_model(self, model: Json, policy: Json, rolling: bool) -> None:
        """The model changed: a Rolling scale set starts an upgrade on its own."""
        previous, self.model = self.model, dict(model)
        if not rolling or all(m == self.model for m in self.instances.values()):
            return
        percent = int(policy.get("maxBatchInstancePercent") or 20)
        self.upgrade = Upgrade(started=now(), batch=max(1, math.ceil(len(self.instances) * percent / 100)),
                               previous=previous,
                               max_unhealthy_upgraded=int(policy.get("maxUnhealthyUpgradedInstancePercent") or 20),
                               rollback=bool(policy.get("rollbackFailedInstancesOnPolicyBreach")))

    def advance(self, healthy: Healthy) -> None:
        """One batch moves to the latest model; then the upgraded instances' health decides."""
        upgrade = self.upgrade
        if upgrade is None or upgrade.code != "RollingForward":
            return
        old = sorted((i for i, m in self.instances.items() if m != self.model), key=int)
        for instance_id in old[: upgrade.batch]:
            self.instances[instance_id] = dict(self.model)
        upgraded = [i for i, m in self.instances.items() if m == self.model]
        failed = [i for i in upgraded if healthy(i, self.model) is not True]
        if failed and len(failed) * 100 > upgrade.max_unhealthy_upgraded * len(self.instances):
            upgrade.code, upgrade.ended, upgrade.failed = "Faulted", now(), len(failed)
            if upgrade.rollback:
                for instance_id in failed:
                    self.instances[instance_id] = dict(upgrade.previous)
        elif all(m == self.model for m in self.instances.values()):
            upgrade.code, upgrade.ended = "Completed", now()

    def latest(self) -> Json | None:
        upgrade = self.upgrade
        if upgrade is None:
            return None
        done = sum(1 for m in self.instances.values() if m == self.model)
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
                "progress": {"successfulInstanceCount": done, "failedInstanceCount": upgrade.failed,
                             "inProgressInstanceCount": 0 if upgrade.ended else min(upgrade.batch, len(self.instances)),
                             "pendingInstanceCount": max(0, len(self.instances) - done - upgrade.failed)},
            },
        }
        if upgrade.code == "Faulted":
            body["properties"]["error"] = {"code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade",
                                           "message": "the rolling upgrade exceeded the unhealthy limit (fake)"}
        return body

    def vms(self, health_code: Callable[[str, Json], str | None]) -> list[Json]:
        """The instances with their instance view; ``vmHealth`` only where something reports it."""
        found = []
        for instance_id, model in sorted(self.instances.items(), key=lambda item: int(item[0])):
            view: Json = {"statuses": [{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/running"}]}
            code = health_code(instance_id, model)
            if code is not None:
                view["vmHealth"] = {"status": {"code": code}}
            found.append({
                "id": f"{self.id}/virtualMachines/{instance_id}",
                "name": f"{self.name}_{instance_id}",
                "instanceId": instance_id,
                "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
                "location": "westeurope",
                "properties": {"latestModelApplied": model == self.model, "provisioningState": "Succeeded",
                               "instanceView": view},
            })
        return found
