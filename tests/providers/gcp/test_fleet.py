"""Fleets against the fake Compute API: templates, regional groups, rolling refresh, canaries."""

from __future__ import annotations

import pytest

from lkcloud.errors import UsageError
from lkcloud.provider.types import FleetSpec
from lkcloud_gcp import fleet, image
from lkcloud_gcp.clients import Api
from lkcloud_gcp.provider import GcpProvider
from tests.providers.gcp.test_image import spec
from tests.providers.gcp.test_instances import _items
from tests.servers.fake_compute import FakeCompute

pytestmark = pytest.mark.emulator
REGION = "europe-west1"


class Steps:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, message: str) -> None:
        self.lines.append(message)

    def task(self, description: str, total: int | None = None, unit: str = "B") -> object:
        raise AssertionError("fleets report steps")


@pytest.fixture
def web(api: Api, compute: FakeCompute) -> GcpProvider:
    image.insert(api, spec("os-1"))
    image.insert(api, spec("os-2"))
    gcp = GcpProvider(api)
    gcp.fleet_create(FleetSpec(name="web", image="os-1", size=3, user_data=b'{"v":1}'))
    return gcp


def test_create(web: GcpProvider, compute: FakeCompute) -> None:
    (template,) = compute.recorded("POST", r"/global/instanceTemplates$")
    props = (template.body or {})["properties"]
    assert props["machineType"] == "e2-small"
    assert _items(props) == {"serial-port-enable": "1", "user-data": '{"v":1}'}
    assert props["labels"]["lkcloud-fleet"] == "web"
    (group,) = compute.recorded("POST", rf"/regions/{REGION}/instanceGroupManagers$")
    body = group.body or {}
    assert body["targetSize"] == 3 and body["instanceTemplate"].endswith(template.body["name"])  # type: ignore[index]
    assert group.query["requestId"]
    status = web.fleet_status("web")
    assert status.state == "stable" and status.size == 3 and len(status.instances) == 3
    assert status.image.endswith("/global/images/os-1")


def test_refresh_canary_then_full(web: GcpProvider, compute: FakeCompute) -> None:
    steps = Steps()
    canary = web.fleet_refresh("web", "os-2", b'{"v":2}', reporter=steps,  # type: ignore[arg-type]
                               rollout=fleet.Rollout(canary=1))
    assert canary.old_image.endswith("/os-1") and canary.new_image.endswith("/os-2")
    (patch,) = compute.recorded("PATCH", r"/instanceGroupManagers/web$")
    body = patch.body or {}
    assert body["updatePolicy"] == {"type": "PROACTIVE", "minimalAction": "REPLACE", "replacementMethod": "SUBSTITUTE",
                                    "maxSurge": {"fixed": 3}, "maxUnavailable": {"fixed": 0}}
    stable, new = body["versions"]
    assert stable["name"] == "stable" and new == {"name": "canary", "instanceTemplate": new["instanceTemplate"],
                                                  "targetSize": {"fixed": 1}}
    versions = [i.version for i in canary.status.instances]  # type: ignore[union-attr]
    assert versions.count(new["instanceTemplate"].rsplit("/", 1)[-1]) == 1
    assert any("instances settled" in line for line in steps.lines)
    unstable_gets = [r for r in compute.recorded("GET", r"/instanceGroupManagers/web$")]
    assert len(unstable_gets) >= compute.stable_after + 1

    full = web.fleet_refresh("web", "os-2", None, rollout=fleet.Rollout(max_surge=0, max_unavailable=3))
    last = compute.recorded("PATCH", r"/instanceGroupManagers/web$")[-1].body or {}
    assert [v["name"] for v in last["versions"]] == ["current"]
    assert last["updatePolicy"]["maxUnavailable"] == {"fixed": 3}
    assert len(compute.recorded("POST", r"/global/instanceTemplates$")) == 2  # same content: template reused
    assert {i.version for i in full.status.instances} == {new["instanceTemplate"].rsplit("/", 1)[-1]}  # type: ignore[union-attr]
    assert list(compute.templates) == [new["instanceTemplate"].rsplit("/", 1)[-1]]  # the old one is gone
    template = compute.templates[next(iter(compute.templates))]
    assert _items(template["properties"])["user-data"] == '{"v":2}'  # kept when refresh gives none


def test_scale_and_delete(web: GcpProvider, compute: FakeCompute) -> None:
    assert web.fleet_scale("web", 5).size == 5
    (resize,) = compute.recorded("POST", r"/instanceGroupManagers/web/resize$")
    assert resize.query["size"] == ["5"]
    web.fleet_delete("web")
    assert compute.groups == {} and compute.templates == {}
    with pytest.raises(UsageError, match="no fleet named web"):
        web.fleet_status("web")


def test_create_twice_is_refused(web: GcpProvider) -> None:
    with pytest.raises(UsageError, match="already exists"):
        web.fleet_create(FleetSpec(name="web", image="os-1", size=1))


def test_bad_fleet_name(api: Api, compute: FakeCompute) -> None:
    with pytest.raises(UsageError, match="fleet name 'Web_1'"):
        GcpProvider(api).fleet_create(FleetSpec(name="Web_1", image="os-1", size=1))
    assert compute.requests == []
