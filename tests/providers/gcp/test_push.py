"""push gcp: a raw disk streamed into the storage emulator and registered with the fake Compute API."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud import state
from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud.platform import BootMode
from lkcloud_gcp import archive
from lkcloud_gcp.clients import Api
from lkcloud_gcp.image import request_id
from lkcloud_gcp.push import PushOptions, push
from tests.servers.fake_compute import FakeCompute
from tests.servers.gcs_emulator import storage_client

pytestmark = pytest.mark.emulator


def test_push_raw_disk(api: Api, compute: FakeCompute, raw_disk: Path, gcs_url: str, bucket: str) -> None:
    artifact = from_file(raw_disk, name="hello-gcp", boot_mode=BootMode.HYBRID)
    options = PushOptions(family="lkcloud-test", labels=("team=os",), keep_upload=True)
    result = push(api, artifact, options)

    assert result.name == "hello-gcp" and not result.reused
    (insert,) = compute.recorded("POST", r"/global/images$")
    body = insert.body or {}
    assert body["family"] == "lkcloud-test"
    assert body["rawDisk"]["containerType"] == "TAR"
    assert body["rawDisk"]["source"].startswith(f"https://storage.googleapis.com/{bucket}/lkcloud/hello-gcp-")
    assert {f["type"] for f in body["guestOsFeatures"]} == {"UEFI_COMPATIBLE", "VIRTIO_SCSI_MULTIQUEUE", "GVNIC"}
    assert body["labels"]["team"] == "os" and body["labels"]["lkcloud"] == "managed"
    assert body["labels"]["lkcloud-digest"] == artifact.digest.removeprefix("sha256:")[:32]
    assert insert.query["requestId"] == [request_id("hello-gcp", artifact.digest)]
    # the operation was polled through the fake, never through compute.googleapis.com
    assert compute.recorded("POST", r"/global/operations/operation-\d+/wait")

    object_name = body["rawDisk"]["source"].split(f"/{bucket}/", 1)[1]
    stored = storage_client(gcs_url).bucket(bucket).blob(object_name).download_as_bytes()
    assert stored == b"".join(archive.gce_archive(raw_disk))
    assert state.last("push.gcp") == {"image": "hello-gcp", "self_link": result.image_id, "project": api.project,
                                      "digest": artifact.digest}


def test_push_again_reuses_and_replace_recreates(api: Api, compute: FakeCompute, raw_disk: Path) -> None:
    artifact = from_file(raw_disk, name="again")
    push(api, artifact, PushOptions())
    assert push(api, artifact, PushOptions()).reused
    assert len(compute.recorded("POST", r"/global/images$")) == 1
    push(api, artifact, PushOptions(replace=True))
    assert len(compute.recorded("DELETE", r"/global/images/again$")) == 1
    assert len(compute.recorded("POST", r"/global/images$")) == 2


def test_upload_removed_unless_kept(api: Api, compute: FakeCompute, raw_disk: Path, gcs_url: str,
                                    bucket: str) -> None:
    push(api, from_file(raw_disk, name="cleaned"), PushOptions())
    assert list(storage_client(gcs_url).bucket(bucket).list_blobs()) == []


def test_prebuilt_archive_uploaded_as_is(api: Api, compute: FakeCompute, raw_disk: Path, gcs_url: str,
                                         bucket: str) -> None:
    built = raw_disk.parent / "os.img.tar.gz"
    built.write_bytes(b"".join(archive.gce_archive(raw_disk)))
    push(api, from_file(built, boot_mode=BootMode.BIOS), PushOptions(keep_upload=True))
    (insert,) = compute.recorded("POST", r"/global/images$")
    assert (insert.body or {})["name"] == "os"
    assert "UEFI_COMPATIBLE" not in {f["type"] for f in (insert.body or {})["guestOsFeatures"]}
    (blob,) = storage_client(gcs_url).bucket(bucket).list_blobs()
    assert blob.download_as_bytes() == built.read_bytes()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (PushOptions(name="Bad_Name"), "image name 'Bad_Name' is not a valid GCE name"),
        (PushOptions(family="family-"), "image family 'family-' is not a valid GCE name"),
        (PushOptions(family="f" * 64), "is not a valid GCE name"),
        (PushOptions(labels=("NoEquals",)), "label 'NoEquals'"),
        (PushOptions(features=("WARP_DRIVE",)), "unknown guest OS feature WARP_DRIVE"),
    ],
)
def test_bad_names_fail_before_any_api_call(api: Api, compute: FakeCompute, raw_disk: Path,
                                            options: PushOptions, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        push(api, from_file(raw_disk, name="ok"), options)
    assert compute.requests == []


def test_missing_bucket_is_a_clear_error(gcp_env: dict[str, str], compute: FakeCompute, raw_disk: Path) -> None:
    from tests.providers.gcp.conftest import make_api

    with pytest.raises(UsageError, match="bucket 'no-such-bucket' does not exist") as info:
        push(make_api(gcp_env, bucket="no-such-bucket"), from_file(raw_disk, name="x"), PushOptions())
    assert "gcloud storage buckets create" in (info.value.hint or "")
    assert compute.recorded("POST", r"/global/images$") == []


def test_no_bucket_configured(gcp_env: dict[str, str], compute: FakeCompute, raw_disk: Path) -> None:
    from tests.providers.gcp.conftest import make_api

    with pytest.raises(UsageError, match="no bucket"):
        push(make_api(gcp_env), from_file(raw_disk, name="x"), PushOptions())
    assert compute.requests == []
