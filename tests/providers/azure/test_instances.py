"""run azure against the fake Resource Manager: network pieces, userData, boot diagnostics."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud.platform import Arch
from lkcloud.provider.types import RunRequest
from lkcloud_azure.clients import Api
from lkcloud_azure.provider import AzureProvider, RunOptions
from tests.providers.azure.vhds import MIB, make_vhd
from tests.servers.fake_arm import FakeArm
from tests.support.files import Steps

pytestmark = [pytest.mark.emulator]
USER_DATA = b'{"hostname":{"content":"web-1"}}'


@pytest.fixture
def pushed(api: Api, vhd: Path) -> tuple[AzureProvider, str]:
    azure = AzureProvider(api)
    return azure, azure.push(from_file(vhd, name="web")).id


def test_run_creates_network_and_vm_with_user_data(pushed: tuple[AzureProvider, str], arm: FakeArm) -> None:
    azure, image = pushed
    result = azure.run(RunRequest(image=image, name="web", user_data=USER_DATA, instance_type="Standard_B2s",
                                  console=True))
    (instance,) = result.instances
    assert instance.id.endswith("/virtualMachines/web") and instance.state == "Succeeded"
    assert instance.address and instance.address.startswith("203.0.113.")
    assert len(arm.recorded("PUT", r"/virtualNetworks/lkcloud-vnet$")) == 1
    (vm,) = arm.recorded("PUT", r"/virtualMachines/web$")
    props = vm.body["properties"]
    assert base64.b64decode(props["userData"]) == USER_DATA
    assert props["hardwareProfile"]["vmSize"] == "Standard_B2s"
    assert props["storageProfile"]["imageReference"]["id"] == image
    assert props["diagnosticsProfile"]["bootDiagnostics"]["enabled"] is True
    assert props["networkProfile"]["networkInterfaces"][0]["id"].endswith("/networkInterfaces/web-nic")
    assert vm.body["tags"]["lkcloud:managed"] == "true"
    assert result.console and "fake serial console of web" in result.console


def test_run_many_reuses_the_network(pushed: tuple[AzureProvider, str], arm: FakeArm) -> None:
    azure, image = pushed
    result = azure.run(RunRequest(image=image, name="node", count=3))
    assert [i.id.rsplit("/", 1)[1] for i in result.instances] == ["node-0", "node-1", "node-2"]
    azure.run(RunRequest(image=image.rsplit("/", 1)[1], name="other"))
    assert len(arm.recorded("PUT", r"/virtualNetworks/")) == 1
    assert "userData" not in arm.recorded("PUT", r"/virtualMachines/other$")[0].body["properties"]


def test_vm_size_defaults_per_architecture(pushed: tuple[AzureProvider, str], arm: FakeArm) -> None:
    azure, image = pushed
    azure.run(RunRequest(image=image, name="small"))
    azure.run(RunRequest(image=image, name="arm", arch=Arch.ARM64))
    sizes = [arm.recorded("PUT", rf"/virtualMachines/{name}$")[0].body["properties"]["hardwareProfile"]["vmSize"]
             for name in ("small", "arm")]
    assert sizes == ["Standard_B1s", "Standard_B2pts_v2"]


def test_run_without_public_ip_reports_the_private_address(api: Api, pushed: tuple[AzureProvider, str],
                                                           arm: FakeArm) -> None:
    private = AzureProvider(api, run_options=RunOptions(ssh_key="ssh-ed25519 AAAA test", public_ip=False))
    (instance,) = private.run(RunRequest(image=pushed[1], name="quiet")).instances
    assert instance.address and instance.address.startswith("10.0.0.")
    assert arm.recorded("PUT", r"/publicIPAddresses/quiet-ip$") == []
    profile = arm.recorded("PUT", r"/virtualMachines/quiet$")[0].body["properties"]["osProfile"]
    assert "adminPassword" not in profile and profile["linuxConfiguration"]["disablePasswordAuthentication"]


def test_unknown_image_is_a_clear_error(api: Api, arm: FakeArm) -> None:
    with pytest.raises(UsageError, match="image 'ghost' not found"):
        AzureProvider(api).run(RunRequest(image="ghost"))
    assert arm.recorded("PUT", "") == []


def test_vm_says_it_has_no_agent_and_opens_only_the_service_port(pushed: tuple[AzureProvider, str],
                                                                 arm: FakeArm) -> None:
    azure, image = pushed
    (instance,) = azure.run(RunRequest(image=image, name="web")).instances
    profile = arm.recorded("PUT", r"/virtualMachines/web$")[0].body["properties"]["osProfile"]
    assert profile["linuxConfiguration"]["provisionVMAgent"] is False and profile["allowExtensionOperations"] is False
    assert instance.address is not None
    assert arm.reachable(instance.address, 8080) and not arm.reachable(instance.address, 22)
    assert arm.outbound(instance.id)  # through its own public IP: the subnet is private
    vnet = arm.recorded("PUT", r"/virtualNetworks/lkcloud-vnet$")[0].body
    assert vnet["properties"]["subnets"][0]["properties"]["defaultOutboundAccess"] is False


def test_vm_without_public_ip_has_no_way_out_and_says_so(api: Api, pushed: tuple[AzureProvider, str],
                                                         arm: FakeArm) -> None:
    steps = Steps()
    private = AzureProvider(api, run_options=RunOptions(public_ip=False))
    (instance,) = private.run(RunRequest(image=pushed[1], name="quiet"), steps).instances
    assert not arm.outbound(instance.id)
    assert any(line.startswith("warning: VM quiet has no public IP") for line in steps.lines)


def test_running_a_name_again_does_not_put_the_vm_again(pushed: tuple[AzureProvider, str], arm: FakeArm,
                                                       tmp_path: Path) -> None:
    azure, image = pushed
    first = azure.run(RunRequest(image=image, name="web")).instances
    again = azure.run(RunRequest(image=image, name="web")).instances
    assert again == first and len(arm.recorded("PUT", r"/virtualMachines/web$")) == 1
    other = azure.push(from_file(make_vhd(tmp_path / "other.vhd", 4, ((0, MIB),), seed=9), name="other")).id
    with pytest.raises(UsageError, match="VM web already exists with image"):
        azure.run(RunRequest(image=other, name="web"))


def test_console_waits_for_boot_diagnostics(pushed: tuple[AzureProvider, str], arm: FakeArm) -> None:
    azure, image = pushed
    arm.console_after = 3  # the serial log is not there for the first reads
    result = azure.run(RunRequest(image=image, name="web", console=True))
    assert result.console and "fake serial console of web" in result.console
    assert arm.console_after == 0
