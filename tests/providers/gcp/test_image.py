"""Images and operations against the fake Compute API: request ids, waiting, failures, faults."""

from __future__ import annotations

import dataclasses

import pytest

from lkcloud.errors import ProviderError, TimeoutExceededError, UsageError
from lkcloud.platform import BootMode
from lkcloud_gcp import image
from lkcloud_gcp.clients import Api, Clients
from lkcloud_gcp.image import ImageSpec
from tests.providers.gcp.conftest import hurried
from tests.servers.fake_compute import FakeCompute
from tests.servers.faultproxy import FaultProxy, Faults

pytestmark = pytest.mark.emulator
DIGEST = "sha256:" + "ab" * 32


def spec(name: str = "img-1", family: str | None = "lk") -> ImageSpec:
    return ImageSpec(name=name, source_url="https://storage.googleapis.com/b/o.tar.gz", digest=DIGEST, family=family,
                     features=image.guest_os_features(BootMode.UEFI))


def test_insert_waits_through_pending_running_done(api: Api, compute: FakeCompute) -> None:
    created = image.insert(api, spec())
    assert created.name == "img-1" and created.family == "lk"
    waits = compute.recorded("POST", r"/global/operations/[^/]+/wait$")
    assert len(waits) == 2  # PENDING -> RUNNING -> DONE, each step one wait


def test_failed_operation_is_reported(api: Api, compute: FakeCompute) -> None:
    compute.fail_next_operation = "QUOTA_EXCEEDED"
    with pytest.raises(ProviderError, match="image img-1 failed: QUOTA_EXCEEDED: injected by the fake"):
        image.insert(api, spec())


def test_stuck_operation_times_out(api: Api, compute: FakeCompute) -> None:
    compute.hold_operations = True
    with pytest.raises(TimeoutExceededError, match=r"after 0\.3 s waiting for image img-1 \(operation operation-\d+"):
        image.insert(hurried(api, operation=0.3), spec())


def test_family_lookup_and_resolve(api: Api, compute: FakeCompute) -> None:
    image.insert(api, spec("img-1"))
    image.insert(api, spec("img-2"))
    assert image.resolve(api, "family/lk").name == "img-2"
    assert image.resolve(api, "img-1").name == "img-1"
    link = image.resolve(api, "img-1").self_link
    assert image.resolve(api, link).name == "img-1"
    with pytest.raises(ProviderError, match="not found"):
        image.resolve(api, "family/nothing")
    with pytest.raises(UsageError, match="not a valid GCE name"):
        image.resolve(api, "family/No_Such")


def test_retried_insert_makes_one_image(api: Api, compute: FakeCompute) -> None:
    """The first POST reaches the fake but its answer is lost; the retry carries the same
    requestId, so the fake hands back the same operation instead of a second image."""
    faults = Faults(rate=1.0, kinds=("reset-after",), match=r"^POST .*/global/images\?")
    with FaultProxy(compute.base, faults) as proxy:
        endpoints = dataclasses.replace(api.clients.endpoints, compute=proxy.url)
        flaky = hurried(Api.of(api.config, Clients(api.clients.credentials, endpoints)), call=1.0)
        with pytest.raises(ProviderError):  # every answer lost: retried within the budget, then a clear error
            image.insert(flaky, spec("once"))
    inserts = compute.recorded("POST", r"/global/images$")
    assert len(inserts) > 1
    assert len({tuple(r.query["requestId"]) for r in inserts}) == 1
    assert list(compute.images) == ["once"]


def test_transient_errors_are_retried(api: Api, compute: FakeCompute) -> None:
    faults = Faults(rate=0.5, kinds=("503", "reset", "reset-after", "500"), seed=11)
    with FaultProxy(compute.base, faults) as proxy:
        endpoints = dataclasses.replace(api.clients.endpoints, compute=proxy.url)
        flaky = Api.of(api.config, Clients(api.clients.credentials, endpoints))
        for n in range(3):
            image.insert(flaky, spec(f"img-{n}"))
        image.delete(flaky, "img-0")
    assert sum(proxy.stats[k] for k in ("503", "reset", "reset-after", "500")) > 0
    assert sorted(compute.images) == ["img-1", "img-2"]


def test_request_id_is_stable_and_distinct() -> None:
    assert image.request_id("a", DIGEST) == image.request_id("a", DIGEST)
    assert image.request_id("a", DIGEST) != image.request_id("b", DIGEST)
    assert dataclasses.replace(spec(), replaces="123").request_id != spec().request_id


@pytest.mark.parametrize("name", ["a", "lkcloud-1", "x" * 63])
def test_valid_names(name: str) -> None:
    assert image.validate_name(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "Abc", "a_b", "abc-", "x" * 64])
def test_invalid_names(name: str) -> None:
    with pytest.raises(UsageError):
        image.validate_name(name)


def test_image_name_from_stem() -> None:
    assert image.image_name("LinuxKit_v1.2") == "linuxkit-v1-2"
    assert image.image_name("9lives") == "lk-9lives"
