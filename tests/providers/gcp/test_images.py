"""images list|prune gcp: lkcloud's images with family, digest and use; the core's prune policy
keeps the newest per family and every image a fleet's template boots from."""

from __future__ import annotations

import pytest

from lkcloud.provider.prune import plan_prune
from lkcloud_gcp import image
from lkcloud_gcp.clients import Api
from lkcloud_gcp.fleet import ensure_template
from lkcloud_gcp.instances import MachineOptions
from lkcloud_gcp.provider import GcpProvider
from tests.providers.gcp.test_image import DIGEST, spec
from tests.servers.fake_compute import FakeCompute

pytestmark = pytest.mark.emulator


@pytest.fixture
def images(api: Api, compute: FakeCompute) -> list[str]:
    names = [f"os-{n}" for n in range(4)]
    for name in names:
        image.insert(api, spec(name, family="os"))
    image.insert(api, spec("other-0", family="other"))
    compute.images["foreign"] = {**compute.images["os-0"], "name": "foreign", "labels": {}}
    oldest = compute.images["os-0"]["selfLink"]
    ensure_template(api, "web", MachineOptions(image_link=oldest, machine_type="e2-small"))
    compute.requests.clear()
    return names


def test_list_marks_images_in_use(api: Api, images: list[str]) -> None:
    records = GcpProvider(api).images_list()
    assert [r.name for r in records] == ["other-0", "os-3", "os-2", "os-1", "os-0"]  # newest first, lkcloud's only
    assert [r.name for r in records if r.in_use] == ["os-0"]
    assert {r.family for r in records} == {"os", "other"} and {r.digest for r in records} == {DIGEST}
    assert records[0].id.endswith("/global/images/other-0") and records[0].created


def test_prune_keeps_the_newest_and_what_a_fleet_uses(api: Api, compute: FakeCompute, images: list[str]) -> None:
    gcp = GcpProvider(api)
    plan = plan_prune(gcp.images_list(), keep=1)
    assert [r.name for r in plan.remove] == ["os-2", "os-1"] and [r.name for r in plan.in_use] == ["os-0"]
    for record in plan.remove:
        gcp.image_delete(record)
    assert sorted(compute.images) == ["foreign", "os-0", "os-3", "other-0"]
    assert [r.path.rsplit("/", 1)[-1] for r in compute.recorded("DELETE", r"/global/images/")] == ["os-2", "os-1"]


def test_delete_of_an_image_already_gone(api: Api, compute: FakeCompute, images: list[str]) -> None:
    gcp = GcpProvider(api)
    record = gcp.images_list()[1]
    compute.images.pop(record.name)
    gcp.image_delete(record)  # nothing left to do
