"""images list|prune gcp: keep the newest per family, never one a template uses, deprecate first."""

from __future__ import annotations

import pytest

from lkcloud_gcp import image, prune
from lkcloud_gcp.clients import Api
from lkcloud_gcp.fleet import ensure_template
from lkcloud_gcp.instances import MachineOptions
from tests.providers.gcp.test_image import spec
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
    records = prune.list_images(api)
    assert [r.name for r in records] == ["other-0", "os-3", "os-2", "os-1", "os-0"]  # newest first, lkcloud's only
    assert [r.name for r in records if r.in_use] == ["os-0"]
    assert [r.name for r in prune.list_images(api, "other")] == ["other-0"]


def test_prune_deprecates_then_deletes(api: Api, compute: FakeCompute, images: list[str]) -> None:
    removed = prune.prune(api, keep=1, family="os")
    assert [r.name for r in removed] == ["os-2", "os-1"]  # os-3 kept, os-0 used by a template
    assert sorted(compute.images) == ["foreign", "os-0", "os-3", "other-0"]
    deprecations = compute.recorded("POST", r"/global/images/os-\d/deprecate$")
    assert [r.path.rsplit("/", 2)[-2] for r in deprecations] == ["os-2", "os-1"]
    body = deprecations[0].body or {}
    assert body["state"] == "DEPRECATED" and body["replacement"].endswith("/global/images/os-3")
    order = [(r.method, r.path.rsplit("/", 2)[-2:]) for r in compute.requests if r.method in ("POST", "DELETE")
             and "/operations/" not in r.path]
    assert order.index(("POST", ["os-2", "deprecate"])) < order.index(("DELETE", ["images", "os-2"]))


def test_prune_dry_run_changes_nothing(api: Api, compute: FakeCompute, images: list[str]) -> None:
    removed = prune.prune(api, keep=0, dry_run=True)
    assert {r.name for r in removed} == {"os-3", "os-2", "os-1", "other-0"}
    assert all(r.details["action"] == "would delete" for r in removed)
    assert compute.recorded("DELETE", "") == [] and compute.recorded("POST", "deprecate") == []
