"""Page-blob uploads into Azurite: exact bytes, exact page ranges, resume after a kill."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.artifact import file_digest
from lkcloud.errors import LkcloudError
from lkcloud_azure import upload
from lkcloud_azure.clients import Api
from lkcloud_azure.upload import PageBlobUploader
from lkcloud_azure.vhd import check
from tests.providers.azure.conftest import FAST_CALLS
from tests.providers.azure.vhds import MIB, make_vhd, nonzero_spans
from tests.servers.azurite import connection_string
from tests.servers.faultproxy import FaultProxy, Faults

pytestmark = [pytest.mark.emulator]
PAGE_PUTS = r"^PUT .*comp=page"


def blob_service(url: str) -> object:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(connection_string(url), retry_total=0)


def stored_spans(blob: object) -> list[tuple[int, int]]:
    ranges = sorted((r.start, r.end + 1) for r in blob.list_page_ranges())  # type: ignore[attr-defined]
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def test_plan_covers_exactly_the_data(vhd: Path) -> None:
    spans = upload.plan(check(vhd))
    assert all(s.length <= upload.PAGE and s.start // upload.PAGE == (s.end - 1) // upload.PAGE for s in spans)
    assert all(s.start % 512 == 0 and s.length % 512 == 0 for s in spans)
    merged: list[tuple[int, int]] = []
    for s in spans:
        if merged and merged[-1][1] == s.start:
            merged[-1] = (merged[-1][0], s.end)
        else:
            merged.append((s.start, s.end))
    assert merged == nonzero_spans(vhd)


def test_upload_writes_only_data_and_the_bytes_match(api: Api, vhd: Path, azurite_url: str, container: str) -> None:
    digest = file_digest(vhd)
    uploader = PageBlobUploader(api.clients.blob_service(), container, FAST_CALLS, concurrency=4)
    result = uploader.upload(check(vhd), "disk.vhd", digest)
    blob = blob_service(azurite_url).get_blob_client(container, "disk.vhd")  # type: ignore[attr-defined]
    assert blob.download_blob().readall() == vhd.read_bytes()
    assert stored_spans(blob) == nonzero_spans(vhd)
    assert result.bytes_sent == sum(end - start for start, end in nonzero_spans(vhd))
    assert blob.get_blob_properties().metadata == {"lkcloud_digest": digest.removeprefix("sha256:"),
                                                   "lkcloud_complete": "true"}
    again = uploader.upload(check(vhd), "disk.vhd", digest)
    assert again.reused and again.bytes_sent == 0


def test_killed_upload_resumes_with_only_the_rest(vhd: Path, azurite_url: str, container: str,
                                                  tmp_path: Path) -> None:
    image, digest = check(vhd), file_digest(vhd)
    total = len(upload.plan(image))
    with FaultProxy(azurite_url, Faults(match=PAGE_PUTS, fail_after=2)) as proxy:
        killed = PageBlobUploader(blob_service(proxy.url), container, FAST_CALLS, concurrency=1)
        with pytest.raises(LkcloudError):
            killed.upload(image, "disk.vhd", digest)
    with FaultProxy(azurite_url, Faults(match=PAGE_PUTS)) as proxy:
        result = PageBlobUploader(blob_service(proxy.url), container, FAST_CALLS, concurrency=3).upload(
            image, "disk.vhd", digest)
        assert proxy.stats["matched"] == total - 2 == result.sent
    assert result.skipped == 2
    blob = blob_service(azurite_url).get_blob_client(container, "disk.vhd")  # type: ignore[attr-defined]
    assert blob.download_blob().readall() == vhd.read_bytes()


def test_transient_faults_are_retried(vhd: Path, azurite_url: str, container: str) -> None:
    kinds = ("reset", "reset-after", "500", "503")
    faults = Faults(rate=0.5, kinds=kinds, seed=3, match=PAGE_PUTS)
    with FaultProxy(azurite_url, faults) as proxy:
        PageBlobUploader(blob_service(proxy.url), container, FAST_CALLS, concurrency=4).upload(
            check(vhd), "disk.vhd", file_digest(vhd))
        assert sum(proxy.stats[kind] for kind in kinds) >= 1, proxy.stats  # seed 3 faults the first request
    blob = blob_service(azurite_url).get_blob_client(container, "disk.vhd")  # type: ignore[attr-defined]
    assert blob.download_blob().readall() == vhd.read_bytes()


def test_other_content_starts_over(vhd: Path, azurite_url: str, container: str, tmp_path: Path) -> None:
    service = blob_service(azurite_url)
    uploader = PageBlobUploader(service, container, FAST_CALLS)
    uploader.upload(check(vhd), "disk.vhd", file_digest(vhd))
    other = make_vhd(tmp_path / "other.vhd", 24, ((5 * MIB, 256 * 1024),), seed=9)
    result = uploader.upload(check(other), "disk.vhd", file_digest(other))
    assert not result.reused and result.skipped == 0
    blob = service.get_blob_client(container, "disk.vhd")  # type: ignore[attr-defined]
    assert stored_spans(blob) == nonzero_spans(other)
