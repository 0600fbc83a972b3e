"""Fleets as scale sets against the fake Resource Manager: a load balancer's probe for health (the
images have no agent to run extensions), an NSG that lets in the service port only, outbound
through the load balancer, the rolling policy, refresh followed to the end of the rolling
upgrade, scale, delete with everything lkcloud made."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud.provider.types import FleetSpec, Health, UpdatePolicy
from lkcloud_azure.clients import Api
from lkcloud_azure.provider import AzureProvider, RunOptions
from tests.providers.azure.conftest import GROUP, SUBSCRIPTION
from tests.providers.azure.vhds import MIB, make_vhd
from tests.servers.fake_arm import FakeArm
from tests.support.files import Steps

pytestmark = [pytest.mark.emulator]
V1 = b'{"app":{"content":"v1"}}'
V2 = b'{"app":{"content":"v2"}}'
POLICY = UpdatePolicy(min_healthy_percent=80, pause_seconds=0)
NETWORK = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Network"


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


def lb_address(arm: FakeArm, fleet: str) -> str:
    found = arm.get(f"{NETWORK}/publicIPAddresses/{fleet}-lb-ip")
    assert found is not None
    return str(found["properties"]["ipAddress"])


def test_fleet_comes_up_healthy_through_the_load_balancer_probe(azure: AzureProvider, arm: FakeArm) -> None:
    status = azure.fleet_create(FleetSpec(name="pool", image=image(azure, "web"), size=3))
    assert {i.health for i in status.instances} == {Health.HEALTHY} and len(status.instances) == 3
    profile = arm.recorded("PUT", r"/virtualMachineScaleSets/pool$")[0].body["properties"]["virtualMachineProfile"]
    assert "extensionProfile" not in profile  # nothing an agent would have to run
    assert profile["osProfile"]["linuxConfiguration"]["provisionVMAgent"] is False
    assert profile["osProfile"]["allowExtensionOperations"] is False
    assert profile["networkProfile"]["healthProbe"]["id"] == f"{NETWORK}/loadBalancers/pool-lb/probes/health"
    lb = arm.get(f"{NETWORK}/loadBalancers/pool-lb")
    assert lb is not None and lb["sku"]["name"] == "Standard"
    (probe,) = lb["properties"]["probes"]
    assert {k: probe["properties"][k] for k in ("protocol", "port", "requestPath")} == {
        "protocol": "Http", "port": 8080, "requestPath": "/healthz"}
    address = lb_address(arm, "pool")
    assert arm.reachable(address, 8080)  # the service port, through the load balancer and the NSG
    assert not arm.reachable(address, 22)  # nothing else
    scale_set = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Compute" \
                "/virtualMachineScaleSets/pool"
    assert all(arm.outbound(f"{scale_set}/virtualMachines/{i.id}") for i in status.instances)  # the outbound rule


def test_allow_port_opens_exactly_the_ports_named(api: Api, azure: AzureProvider, arm: FakeArm) -> None:
    wide = AzureProvider(api, run_options=RunOptions(allow_ports=(8080, 9090)))
    wide.fleet_create(FleetSpec(name="pool", image=image(azure, "web"), size=1))
    nsg = arm.get(f"{NETWORK}/networkSecurityGroups/pool-nsg")
    assert nsg is not None
    opened = sorted((r["properties"]["destinationPortRange"], r["properties"]["access"])
                    for r in nsg["properties"]["securityRules"])
    assert opened == [("8080", "Allow"), ("9090", "Allow")]
    lb = arm.get(f"{NETWORK}/loadBalancers/pool-lb")
    assert lb is not None
    assert sorted(r["properties"]["frontendPort"] for r in lb["properties"]["loadBalancingRules"]) == [8080, 9090]


def test_refresh_with_unchanged_image_and_data_returns_at_once(azure: AzureProvider, arm: FakeArm) -> None:
    web = image(azure, "web")
    azure.fleet_create(FleetSpec(name="pool", image=web, size=2, user_data=V1))
    result = azure.fleet_refresh("pool", web, V1, POLICY)
    assert result.succeeded and result.message.startswith("nothing to do")
    assert arm.recorded("PATCH", "") == [] and arm.recorded("GET", r"/rollingUpgrades/latest$") == []
    read = arm.recorded("GET", r"/virtualMachineScaleSets/pool$")[-1]
    assert read.query.get("$expand") == ["userData"]


def test_refresh_to_a_broken_image_stops_with_the_old_fleet_serving(azure: AzureProvider, arm: FakeArm) -> None:
    old, broken = image(azure, "web"), image(azure, "web2")
    azure.fleet_create(FleetSpec(name="pool", image=old, size=4))
    arm.app.broken.add(broken.lower())
    result = azure.fleet_refresh("pool", broken, None, POLICY)
    assert not result.succeeded and "Faulted" in result.message
    status = azure.fleet_status("pool")
    assert status.image == old and {i.health for i in status.instances} == {Health.HEALTHY}
    assert arm.reachable(lb_address(arm, "pool"), 8080)


def test_delete_removes_what_lkcloud_made_for_the_fleet(azure: AzureProvider, arm: FakeArm) -> None:
    azure.fleet_create(FleetSpec(name="pool", image=image(azure, "web"), size=1))
    azure.fleet_delete("pool")
    for made in ("loadBalancers/pool-lb", "publicIPAddresses/pool-lb-ip", "networkSecurityGroups/pool-nsg"):
        assert arm.get(f"{NETWORK}/{made}") is None, made


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
    arm.app.broken.add(image(azure, "web2").lower())
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
