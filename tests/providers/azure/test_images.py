"""images list|prune azure: records with family, creation and use; prune (the core's plan) keeps
the newest and what a fleet uses; blobs and source images go with their image."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.provider.prune import plan_prune
from lkcloud.provider.types import FleetSpec, ImageRecord
from lkcloud_azure.clients import Api
from lkcloud_azure.provider import AzureProvider
from lkcloud_azure.push import PushOptions
from tests.providers.azure.vhds import MIB, make_vhd
from tests.servers.fake_arm import FakeArm

pytestmark = [pytest.mark.emulator]


def _blob_names(api: Api) -> set[str]:
    container = api.clients.blob_service().get_container_client(api.config.container)
    return {b.name for b in container.list_blobs()}


def _prune(provider: AzureProvider, keep: int) -> list[ImageRecord]:
    plan = plan_prune(provider.images_list(), keep)
    for record in plan.remove:
        provider.image_delete(record)
    return list(plan.remove)


def _date(arm: FakeArm, ident: str, created: str) -> None:
    found = arm.get(ident)
    assert found is not None
    found["tags"]["lkcloud:created"] = created


@pytest.fixture
def azure(api: Api, tmp_path: Path) -> AzureProvider:
    provider = AzureProvider(api)
    for index in range(4):
        disk = make_vhd(tmp_path / f"img{index}.vhd", 4, ((index * MIB, 64 << 10),), seed=index)
        provider.push(dataclasses.replace(from_file(disk, name="app"), image_name=f"img{index}"))
    return provider


def test_prune_keeps_the_newest_and_what_a_fleet_uses(azure: AzureProvider, api: Api, arm: FakeArm) -> None:
    ids = {r.name: r.id for r in azure.images_list()}
    for index, created in enumerate(("2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04")):
        _date(arm, ids[f"img{index}"], created)
    azure.fleet_create(FleetSpec(name="pool", image="img0", size=1))
    listed = azure.images_list()
    assert [r.name for r in listed] == ["img3", "img2", "img1", "img0"]
    assert [r.in_use for r in listed] == [False, False, False, True]
    assert {(r.family, r.digest[:7]) for r in listed} == {("app", "sha256:")}
    assert len(_blob_names(api)) == 4
    removed = _prune(azure, 1)
    assert [r.name for r in removed] == ["img2", "img1"]
    assert [r.name for r in azure.images_list()] == ["img3", "img0"]
    assert len(_blob_names(api)) == 2


def test_prune_gallery_versions_with_their_source_images(api: Api, arm: FakeArm, tmp_path: Path) -> None:
    for index in range(3):
        disk = make_vhd(tmp_path / f"g{index}.vhd", 4, ((0, 64 << 10),), seed=10 + index)
        provider = AzureProvider(api, PushOptions(gallery="lkg", definition="web", version=f"1.0.{index}"))
        provider.push(from_file(disk, name="web"))
    listed = provider.images_list()
    assert sorted(r.name for r in listed) == ["1.0.0", "1.0.1", "1.0.2"]  # source images go with their version
    for record in listed:
        _date(arm, record.id, f"2026-02-0{record.name[-1]}")
    removed = _prune(provider, 2)
    assert [r.name for r in removed] == ["1.0.0"]
    assert sorted(r.name for r in provider.images_list()) == ["1.0.1", "1.0.2"]
    source = removed[0].details["source_image"]
    assert arm.get(source) is None and len(arm.recorded("DELETE", r"/images/web-[0-9a-f]{12}$")) == 1
