"""Fleets as scale sets against the fake Resource Manager: rolling policy, health, refresh
followed to the end of the rolling upgrade, scale, delete."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Task
from lkcloud.provider.types import FleetSpec, Health, UpdatePolicy
from lkcloud_azure.clients import Api
from lkcloud_azure.provider import AzureProvider
from tests.providers.azure.vhds import MIB, make_vhd
from tests.servers.fake_arm import FakeArm

pytestmark = [pytest.mark.emulator]
V1 = b'{"app":{"content":"v1"}}'
V2 = b'{"app":{"content":"v2"}}'
POLICY = UpdatePolicy(min_healthy_percent=80, pause_seconds=0)


class Steps:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, message: str) -> None:
        self.lines.append(message)

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        return NULL.task(description, total, unit)


@pytest.fixture
def azure(api: Api, vhd: Path, tmp_path: Path) -> AzureProvider:
    provider = AzureProvider(api)
    provider.push(from_file(vhd, name="web"))
    provider.push(from_file(make_vhd(tmp_path / "web2.vhd", 8, ((MIB, MIB),), seed=3), name="web2"))
    return provider


def image(azure: AzureProvider, family: str) -> str:
    (found,) = [r.id for r in azure.images_list() if r.family == family]
    return found


def test_create_sends_rolling_policy_health_and_user_data(azure: AzureProvider, arm: FakeArm) -> None:
    web = image(azure, "web")
    policy = UpdatePolicy(canary_percent=25, pause_seconds=30, min_healthy_percent=80)
    status = azure.fleet_create(FleetSpec(name="pool", image=web, size=4, user_data=V1,
                                          instance_type="Standard_D2s_v5", policy=policy))
    assert status.size == 4 and len(status.instances) == 4 and status.image == web
    assert {i.health for i in status.instances} == {Health.HEALTHY}
    (put,) = arm.recorded("PUT", r"/virtualMachineScaleSets/pool$")
    props = put.body["properties"]
    assert props["upgradePolicy"] == {"mode": "Rolling", "rollingUpgradePolicy": {
        "maxBatchInstancePercent": 25, "maxUnhealthyInstancePercent": 20, "maxUnhealthyUpgradedInstancePercent": 20,
        "pauseTimeBetweenBatches": "PT30S", "prioritizeUnhealthyInstances": True,
        "rollbackFailedInstancesOnPolicyBreach": True}}
    assert base64.b64decode(props["virtualMachineProfile"]["userData"]) == V1
    assert put.body["sku"] == {"name": "Standard_D2s_v5", "tier": "Standard", "capacity": 4}
    assert put.body["tags"]["lkcloud:fleet"] == "pool"


def test_refresh_patches_the_model_and_follows_the_upgrade(azure: AzureProvider, arm: FakeArm) -> None:
    azure.fleet_create(FleetSpec(name="pool", image=image(azure, "web"), size=5, user_data=V1))
    steps = Steps()
    result = azure.fleet_refresh("pool", image(azure, "web2"), V2, UpdatePolicy(canary_percent=40), steps)
    assert result.succeeded and result.message == "rolling upgrade Completed"
    assert result.old_image == image(azure, "web") and result.new_image == image(azure, "web2")
    (patch,) = arm.recorded("PATCH", r"/virtualMachineScaleSets/pool$")
    profile = patch.body["properties"]["virtualMachineProfile"]
    assert profile["storageProfile"]["imageReference"]["id"] == result.new_image
    assert base64.b64decode(profile["userData"]) == V2
    assert patch.body["properties"]["upgradePolicy"]["rollingUpgradePolicy"]["maxBatchInstancePercent"] == 40
    assert any("RollingForward" in line for line in steps.lines) and "Completed" in steps.lines[-1]
    assert result.status is not None and {i.version for i in result.status.instances} == {"latest"}
    assert len(arm.recorded("GET", r"/rollingUpgrades/latest$")) >= 3  # one batch of 2 per poll


def test_refresh_reports_a_faulted_upgrade(azure: AzureProvider, arm: FakeArm) -> None:
    old = image(azure, "web")
    azure.fleet_create(FleetSpec(name="pool", image=old, size=2))
    arm.fail_upgrades = True
    result = azure.fleet_refresh("pool", image(azure, "web2"), None, POLICY)
    assert not result.succeeded
    assert "Faulted" in result.message and "MaxUnhealthyInstancePercentExceeded" in result.message
    assert azure.fleet_status("pool").image == old  # the model is back on what serves


def test_refresh_to_the_same_model_does_nothing(azure: AzureProvider, arm: FakeArm) -> None:
    web = image(azure, "web")
    azure.fleet_create(FleetSpec(name="pool", image=web, size=1, user_data=V1))
    result = azure.fleet_refresh("pool", web, V1, POLICY)
    assert result.succeeded and result.message.startswith("nothing to do")
    assert arm.recorded("PATCH", "") == []


def test_scale_and_delete(azure: AzureProvider, arm: FakeArm) -> None:
    azure.fleet_create(FleetSpec(name="pool", image=image(azure, "web"), size=1))
    assert len(azure.fleet_scale("pool", 3).instances) == 3
    (patch,) = arm.recorded("PATCH", r"/virtualMachineScaleSets/pool$")
    assert patch.body == {"sku": {"capacity": 3}}
    azure.fleet_delete("pool")
    with pytest.raises(UsageError, match="fleet 'pool' not found"):
        azure.fleet_status("pool")


def test_bad_policy_is_refused_before_any_call(azure: AzureProvider, arm: FakeArm) -> None:
    with pytest.raises(UsageError, match="--canary 1: Azure"):
        azure.fleet_create(FleetSpec(name="pool", image="web", size=1, policy=UpdatePolicy(canary_percent=1)))
    assert arm.recorded("PUT", "virtualMachineScaleSets") == []
