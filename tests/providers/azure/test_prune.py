"""images list|prune azure: newest kept, in-use kept, blobs deleted with their images."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.provider.types import FleetSpec
from lkcloud_azure.clients import Api
from lkcloud_azure.provider import AzureProvider
from lkcloud_azure.push import PushOptions
from tests.providers.azure.vhds import MIB, make_vhd
from tests.servers.fake_arm import FakeArm

pytestmark = [pytest.mark.emulator]


def _blob_names(api: Api) -> set[str]:
    container = api.clients.blobs.get_container_client(api.config.container)
    return {b.name for b in container.list_blobs()}


@pytest.fixture
def azure(api: Api, tmp_path: Path) -> AzureProvider:
    provider = AzureProvider(api, state_dir=tmp_path)
    for index in range(4):
        disk = make_vhd(tmp_path / f"img{index}.vhd", 4, ((index * MIB, 64 << 10),), seed=index)
        provider.push_options = PushOptions(name=f"img{index}", record_in=tmp_path)
        provider.push(from_file(disk))
    return provider


def test_prune_keeps_the_newest_and_what_a_fleet_uses(azure: AzureProvider, api: Api, arm: FakeArm) -> None:
    for index, created in enumerate(("2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04")):
        found = arm.get(f"{azure.images_list()[0].id.rsplit('/', 1)[0]}/img{index}")
        assert found is not None
        found["tags"]["lkcloud-created"] = created
    azure.fleet_create(FleetSpec(name="pool", image="img0", size=1))
    listed = azure.images_list()
    assert [r.name for r in listed] == ["img3", "img2", "img1", "img0"]
    assert [r.in_use for r in listed] == [False, False, False, True]
    dry = azure.images_prune(1, dry_run=True)
    assert [(r.name, r.details["action"]) for r in dry] == [("img2", "would delete"), ("img1", "would delete")]
    assert len(_blob_names(api)) == 4
    removed = azure.images_prune(1)
    assert [r.name for r in removed] == ["img2", "img1"]
    assert [r.name for r in azure.images_list()] == ["img3", "img0"]
    assert sorted(name.split("-")[0] for name in _blob_names(api)) == ["img0", "img3"]


def test_prune_gallery_versions_per_definition(api: Api, arm: FakeArm, tmp_path: Path) -> None:
    provider = AzureProvider(api, state_dir=tmp_path)
    for index in range(3):
        disk = make_vhd(tmp_path / f"g{index}.vhd", 4, ((0, 64 << 10),), seed=10 + index)
        provider.push_options = PushOptions(name=f"g{index}", gallery="lkg", definition="web",
                                            version=f"1.0.{index}", record_in=tmp_path)
        provider.push(from_file(disk))
    for record in provider.images_list():
        found = arm.get(record.id)
        assert found is not None
        found["tags"]["lkcloud-created"] = f"2026-02-0{record.name[-1] if '.' in record.name else 1}"
    removed = provider.images_prune(2)
    kinds = sorted((r.details["kind"], r.name) for r in removed)
    assert ("gallery-version", "1.0.0") in kinds
    assert all(name != "1.0.2" for _, name in kinds)
    # a managed image a kept version was made from stays
    remaining = {r.name for r in provider.images_list()}
    assert {"1.0.1", "1.0.2"} <= remaining
