"""run gcp against the fake Compute API: user data, console, shielded VMs, machine types per arch."""

from __future__ import annotations

import dataclasses
import json

import pytest

from lkcloud.errors import UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud.provider.types import RunRequest
from lkcloud_gcp import image
from lkcloud_gcp.clients import Api
from lkcloud_gcp.console import ConsoleOptions
from lkcloud_gcp.provider import GcpProvider
from tests.providers.gcp.test_image import spec
from tests.servers.fake_compute import FakeCompute

pytestmark = pytest.mark.emulator
USER_DATA = json.dumps({"ssh": {"entries": {"authorized_keys": {"perm": "0600", "content": "ssh-ed25519 AAA"}}}})


def _items(body: dict[str, object]) -> dict[str, str]:
    metadata = body["metadata"]
    assert isinstance(metadata, dict)
    return {i["key"]: i["value"] for i in metadata["items"]}


def test_run_with_user_data_and_console(api: Api, compute: FakeCompute) -> None:
    link = image.insert(api, spec("os-1")).self_link
    result = GcpProvider(api).run(RunRequest(image=link, user_data=USER_DATA.encode(), console=True, count=2))

    assert [i.id for i in result.instances] == ["os-1-0", "os-1-1"]
    assert result.instances[0].address == "203.0.113.7" and result.instances[0].state == "RUNNING"
    inserts = compute.recorded("POST", r"/zones/europe-west1-b/instances$")
    body = inserts[0].body or {}
    assert _items(body) == {"user-data": USER_DATA}  # reading the serial port needs no serial-port-enable
    assert body["machineType"] == "zones/europe-west1-b/machineTypes/e2-small"
    assert body["disks"][0]["initializeParams"]["sourceImage"] == link
    assert body["labels"] == {"lkcloud-managed": "true"}
    assert "shieldedInstanceConfig" not in body
    assert len({r.query["requestId"][0] for r in inserts}) == 2
    assert compute.recorded("POST", r"/zones/europe-west1-b/operations/[^/]+/wait$")


def test_console_is_read_with_start_and_next_until_the_marker(api: Api, compute: FakeCompute) -> None:
    """The instance is still booting right after insert: the console is polled from where the
    last read ended until LinuxKit's banner shows, each line once."""
    image.insert(api, spec("os-1"))
    result = GcpProvider(api).run(RunRequest(image="os-1", name="vm", console=True))
    console = result.console or ""
    assert "vm: Welcome to LinuxKit" in console and console.count("SeaBIOS") == 1
    starts = [int(r.query.get("start", ["0"])[0]) for r in compute.recorded("GET", r"/instances/vm/serialPort$")]
    assert len(starts) > 1 and starts == sorted(starts) and len(set(starts)) == len(starts)


def test_console_gives_up_after_its_timeout(api: Api, compute: FakeCompute) -> None:
    image.insert(api, spec("os-1"))
    gcp = GcpProvider(api, console=ConsoleOptions(marker="never printed", timeout=0.3))
    console = gcp.run(RunRequest(image="os-1", name="vm", console=True)).console or ""
    assert "vm: service ready" in console


def test_user_data_that_is_not_utf8_is_refused(api: Api, compute: FakeCompute) -> None:
    image.insert(api, spec("os-1"))
    with pytest.raises(UsageError, match="user data is not UTF-8"):
        GcpProvider(api).run(RunRequest(image="os-1", user_data=b"\xff\xfe binary"))
    assert compute.recorded("POST", r"/instances$") == []


def test_machine_type_follows_the_image_architecture(api: Api, compute: FakeCompute) -> None:
    image.insert(api, dataclasses.replace(spec("arm-os"), arch=Arch.ARM64))
    GcpProvider(api).run(RunRequest(image="arm-os", name="arm"))
    GcpProvider(api).run(RunRequest(image="arm-os", name="big", instance_type="t2a-standard-4"))
    first, second = (r.body or {} for r in compute.recorded("POST", r"/instances$"))
    assert first["machineType"].endswith("/machineTypes/t2a-standard-1")
    assert second["machineType"].endswith("/machineTypes/t2a-standard-4")


def test_unknown_image_architecture_is_an_error(api: Api, compute: FakeCompute) -> None:
    image.insert(api, spec("odd"))
    compute.images["odd"]["architecture"] = "RISCV64"
    with pytest.raises(UsageError, match="image odd: unknown architecture RISCV64"):
        GcpProvider(api).run(RunRequest(image="odd"))
    assert compute.recorded("POST", r"/instances$") == []


def test_shielded_needs_uefi(api: Api, compute: FakeCompute) -> None:
    bios = image.ImageSpec(name="bios-only", source_url="https://x/y", digest="sha256:00",
                           features=image.guest_os_features(BootMode.BIOS))
    image.insert(api, bios)
    with pytest.raises(UsageError, match="shielded VMs need UEFI_COMPATIBLE"):
        GcpProvider(api, shielded=True).run(RunRequest(image="bios-only"))
    image.insert(api, spec("uefi"))
    GcpProvider(api, shielded=True).run(RunRequest(image="uefi", name="vm"))
    (insert,) = compute.recorded("POST", r"/instances$")
    shielded = (insert.body or {})["shieldedInstanceConfig"]
    assert shielded["enableVtpm"] is True and shielded["enableSecureBoot"] is False


def test_run_again_after_the_instance_was_deleted(api: Api, compute: FakeCompute) -> None:
    image.insert(api, spec("os-1"))
    GcpProvider(api).run(RunRequest(image="os-1", name="vm"))
    compute.instances.clear()  # deleted in the console
    (instance,) = GcpProvider(api).run(RunRequest(image="os-1", name="vm")).instances
    assert instance.id == "vm" and ("europe-west1-b", "vm") in compute.instances
