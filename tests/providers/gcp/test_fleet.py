"""Fleets against the fake Compute API: templates, regional groups, rolling refresh, canaries."""

from __future__ import annotations

import pytest

from lkcloud.errors import UsageError
from lkcloud.provider.types import FleetSpec, UpdatePolicy
from lkcloud_gcp import image
from lkcloud_gcp.clients import Api
from lkcloud_gcp.provider import GcpProvider
from tests.providers.gcp.conftest import hurried
from tests.providers.gcp.test_image import spec
from tests.providers.gcp.test_instances import _items
from tests.servers.fake_compute import FakeCompute

pytestmark = pytest.mark.emulator
REGION = "europe-west1"
ROLL = UpdatePolicy(max_surge=3, max_unavailable=0, pause_seconds=0)


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
    assert props["labels"] == {"lkcloud-managed": "true", "lkcloud-fleet": "web"}
    (group,) = compute.recorded("POST", rf"/regions/{REGION}/instanceGroupManagers$")
    body = group.body or {}
    assert body["targetSize"] == 3 and body["instanceTemplate"].endswith(template.body["name"])  # type: ignore[index]
    assert group.query["requestId"]
    status = web.fleet_status("web")
    assert status.state == "stable" and status.size == 3 and len(status.instances) == 3
    assert status.image.endswith("/global/images/os-1")


def test_refresh_canary_then_full(web: GcpProvider, compute: FakeCompute) -> None:
    steps = Steps()
    result = web.fleet_refresh("web", "os-2", b'{"v":2}', UpdatePolicy(max_surge=3, canary_percent=34,
                                                                      pause_seconds=0), steps)  # type: ignore[arg-type]
    assert result.succeeded and result.old_image.endswith("/os-1") and result.new_image.endswith("/os-2")
    canary, full = (r.body or {} for r in compute.recorded("PATCH", r"/instanceGroupManagers/web$"))
    assert canary["updatePolicy"] == {"type": "PROACTIVE", "minimalAction": "REPLACE",
                                      "replacementMethod": "SUBSTITUTE", "maxSurge": {"fixed": 3},
                                      "maxUnavailable": {"fixed": 0}}
    stable, new = canary["versions"]
    assert stable["name"] == "stable" and new == {"name": "canary", "instanceTemplate": new["instanceTemplate"],
                                                  "targetSize": {"percent": 34}}
    assert [v["name"] for v in full["versions"]] == ["current"]
    assert any("instances settled" in line for line in steps.lines)
    assert any("canary, 34%" in line for line in steps.lines)
    new_name = new["instanceTemplate"].rsplit("/", 1)[-1]
    assert {i.version for i in result.status.instances} == {new_name}  # type: ignore[union-attr]
    assert list(compute.templates) == [new_name]  # the old template is gone
    assert _items(compute.templates[new_name]["properties"])["user-data"] == '{"v":2}'


def test_refresh_keeps_user_data_and_skips_a_no_op(web: GcpProvider, compute: FakeCompute) -> None:
    web.fleet_refresh("web", "os-2", None, ROLL)
    (template,) = compute.templates.values()
    assert _items(template["properties"])["user-data"] == '{"v":1}'  # kept when refresh gives none
    again = web.fleet_refresh("web", "os-2", None, ROLL)
    assert again.succeeded and again.message == "nothing to do"
    assert len(compute.recorded("PATCH", r"/instanceGroupManagers/web$")) == 1


def test_refresh_that_does_not_settle_rolls_back(api: Api, web: GcpProvider, compute: FakeCompute) -> None:
    old_template = next(iter(compute.templates))
    compute.stable_after = 10**6  # the group never settles on the new template
    result = GcpProvider(hurried(api, rollout=0.3)).fleet_refresh("web", "os-2", None, ROLL)
    assert not result.succeeded and "waiting for fleet web to be stable" in result.message
    last = compute.recorded("PATCH", r"/instanceGroupManagers/web$")[-1].body or {}
    assert [v["instanceTemplate"].rsplit("/", 1)[-1] for v in last["versions"]] == [old_template]


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
