"""Fleets against the fake Compute API: templates, regional groups, rolling refresh, canaries."""

from __future__ import annotations

import pytest

from lkcloud.errors import UsageError
from lkcloud.progress import Task
from lkcloud.provider.types import FleetSpec, Health, HealthCheck, UpdatePolicy
from lkcloud_gcp import image, rollout
from lkcloud_gcp.clients import Api
from lkcloud_gcp.provider import GcpProvider
from tests.providers.gcp.test_image import spec
from tests.providers.gcp.test_instances import _items
from tests.servers.fake_compute import FakeCompute, Quota
from tests.support import files

pytestmark = pytest.mark.emulator
REGION = "europe-west1"
ROLL = UpdatePolicy(max_surge=3, max_unavailable=0, pause_seconds=0)
QUICK = HealthCheck(path="/healthz", port=8080, interval_seconds=1, timeout_seconds=1, grace_seconds=0)


class Steps(files.Steps):
    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        raise AssertionError("fleets report steps")


@pytest.fixture
def web(api: Api, compute: FakeCompute) -> GcpProvider:
    image.insert(api, spec("os-1"))
    image.insert(api, spec("os-2"))
    gcp = GcpProvider(api)
    gcp.fleet_create(FleetSpec(name="web", image="os-1", size=3, user_data=b'{"v":1}', health=QUICK))
    return gcp


def test_create(web: GcpProvider, compute: FakeCompute) -> None:
    (template,) = compute.recorded("POST", r"/global/instanceTemplates$")
    props = (template.body or {})["properties"]
    assert props["machineType"] == "e2-small"
    assert _items(props) == {"user-data": '{"v":1}'}
    assert props["labels"] == {"lkcloud-managed": "true", "lkcloud-fleet": "web"}
    assert props["tags"] == {"items": ["lkcloud-web"]}
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
    assert any("instances healthy" in line for line in steps.lines)
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


def test_create_makes_the_health_check_and_its_firewall_rule(web: GcpProvider, compute: FakeCompute) -> None:
    (check,) = compute.health_checks.values()
    assert check["type"] == "HTTP" and check["httpHealthCheck"] == {"port": 8080, "requestPath": "/healthz"}
    assert check["checkIntervalSec"] == 1 and check["timeoutSec"] == 1
    (rule,) = compute.firewalls.values()
    assert sorted(rule["sourceRanges"]) == ["130.211.0.0/22", "35.191.0.0/16"]
    assert rule["allowed"] == [{"IPProtocol": "tcp", "ports": ["8080"]}] and rule["targetTags"] == ["lkcloud-web"]
    (group,) = compute.groups.values()
    assert group["autoHealingPolicies"] == [{"healthCheck": check["selfLink"], "initialDelaySec": 0}]
    status = web.fleet_status("web")
    assert {i.health for i in status.instances} == {Health.HEALTHY}


def test_refresh_to_an_image_failing_its_health_check(web: GcpProvider, compute: FakeCompute) -> None:
    """Every new VM RUNNING is not enough: the rollout stops, is rolled back, and the old
    instances keep serving."""
    old_template = next(iter(compute.templates))
    compute.unhealthy_images.add("os-2")
    result = web.fleet_refresh("web", "os-2", None, ROLL)
    assert not result.succeeded and "rolled back" in result.message
    members = compute.members[(REGION, "web")]
    assert len(members) == 3 and {m["template"].rsplit("/", 1)[-1] for m in members} == {old_template}
    assert result.status is not None and result.status.image.endswith("/os-1")
    assert {i.health for i in result.status.instances} == {Health.HEALTHY}


def test_no_firewall_rule_means_no_healthy_instance(web: GcpProvider, compute: FakeCompute) -> None:
    compute.firewalls.clear()
    result = web.fleet_refresh("web", "os-2", None, ROLL)
    assert not result.succeeded


def test_scale_and_delete(web: GcpProvider, compute: FakeCompute) -> None:
    assert web.fleet_scale("web", 5).size == 5
    (resize,) = compute.recorded("POST", r"/instanceGroupManagers/web/resize$")
    assert resize.query["size"] == ["5"]
    web.fleet_delete("web")
    assert compute.groups == {} and compute.templates == {}
    assert compute.health_checks == {} and compute.firewalls == {}
    with pytest.raises(UsageError, match="no fleet named web"):
        web.fleet_status("web")


def test_create_twice_is_refused(web: GcpProvider) -> None:
    with pytest.raises(UsageError, match="already exists"):
        web.fleet_create(FleetSpec(name="web", image="os-1", size=1))


def test_bad_fleet_name(api: Api, compute: FakeCompute) -> None:
    with pytest.raises(UsageError, match="fleet name 'Web_1'"):
        GcpProvider(api).fleet_create(FleetSpec(name="Web_1", image="os-1", size=1))
    assert compute.requests == []


def test_create_delete_create_again_comes_up(web: GcpProvider, compute: FakeCompute) -> None:
    """GCE keeps request ids for an hour: ids derived from content made the second create's
    template and group inserts replays of the first (done, deleted since)."""
    web.fleet_delete("web")
    status = web.fleet_create(FleetSpec(name="web", image="os-1", size=3, user_data=b'{"v":1}', health=QUICK))
    assert status.state == "stable" and len(status.instances) == 3
    assert list(compute.groups) == [(REGION, "web")] and len(compute.templates) == 1


@pytest.mark.parametrize(("surge", "unavailable", "expected"),
                         [(1, 0, (3, 0)), (0, 1, (0, 3)), (0, 0, (3, 0)), (5, 2, (5, 3)), (3, 3, (3, 3))])
def test_surge_and_unavailable_for_a_regional_group(surge: int, unavailable: int, expected: tuple[int, int]) -> None:
    policy = UpdatePolicy(max_surge=surge, max_unavailable=unavailable)
    assert rollout.surge_and_unavailable(policy, zones=3) == expected


def test_bursts_are_throttled_and_retried(api: Api, compute: FakeCompute) -> None:
    """GCE answers a spent rate quota with 403 (rateLimitExceeded, userRateLimitExceeded, or
    RESOURCE_OPERATION_RATE_EXCEEDED for one resource changed too often): wait and try again."""
    compute.quotas = [Quota("write", 1, 0.3), Quota("read", 3, 0.3, "userRateLimitExceeded"),
                      Quota("resource", 1, 1.0, "RESOURCE_OPERATION_RATE_EXCEEDED")]
    image.insert(api, spec("os-1"))
    gcp = GcpProvider(api)
    gcp.fleet_create(FleetSpec(name="web", image="os-1", size=2, health=QUICK))
    assert gcp.fleet_scale("web", 3).size == 3
    assert gcp.fleet_scale("web", 4).size == 4
    assert set(compute.throttled) == {"rateLimitExceeded", "userRateLimitExceeded", "RESOURCE_OPERATION_RATE_EXCEEDED"}
