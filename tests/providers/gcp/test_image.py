"""Images and operations against the fake Compute API: request ids, waiting, failures, faults."""

from __future__ import annotations

import dataclasses

import pytest

from lkcloud.errors import ProviderError, TimeoutExceededError, UsageError
from lkcloud.platform import BootMode
from lkcloud_gcp import image, operations
from lkcloud_gcp.clients import Api, Clients
from lkcloud_gcp.image import ImageSpec
from tests.providers.gcp.conftest import hurried
from tests.servers.fake_compute import WAIT_HOLD, FakeCompute
from tests.servers.faultproxy import FaultProxy, Faults

pytestmark = pytest.mark.emulator
DIGEST = "sha256:" + "ab" * 32


def spec(name: str = "img-1", family: str | None = "lk") -> ImageSpec:
    return ImageSpec(name=name, source_url="https://storage.googleapis.com/b/o.tar.gz", digest=DIGEST, family=family,
                     features=image.guest_os_features(BootMode.UEFI))


def test_insert_waits_on_the_operation(api: Api, compute: FakeCompute) -> None:
    """operations.wait is held by the server until the operation is done (or two minutes pass)."""
    compute.operation_seconds = compute.image_seconds = 0.3
    created = image.insert(api, spec())
    assert created.name == "img-1" and created.family == "lk" and created.status == "READY"
    assert len(compute.recorded("POST", r"/global/operations/[^/]+/wait$")) == 1


def test_the_wait_call_outlasts_the_servers_hold() -> None:
    """A client timeout at or below Google's two-minute hold cuts healthy waits short."""
    assert operations.WAIT_TIMEOUT > WAIT_HOLD


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


def test_each_insert_is_a_new_request(api: Api, compute: FakeCompute) -> None:
    """Deleting an image and pushing it again is a new request, not a replay of the first."""
    image.insert(api, spec("again"))
    image.delete(api, "again")
    image.insert(api, spec("again"))
    first, second = (r.query["requestId"][0] for r in compute.recorded("POST", r"/global/images$"))
    assert first != second and "again" in compute.images


def test_the_fake_keeps_request_ids_for_an_hour(api: Api, compute: FakeCompute) -> None:
    request = image.compute_v1.InsertImageRequest(project=api.project, image_resource=spec("kept").resource(),
                                                  request_id="4a1e1d55-0c4f-4b9e-9f43-0d2f7d1c0001")
    first = api.clients.images.insert_unary(request=request)
    compute.images.clear()
    assert api.clients.images.insert_unary(request=request).name == first.name and compute.images == {}
    compute.clock.advance(3601)
    assert api.clients.images.insert_unary(request=request).name != first.name and "kept" in compute.images


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
