"""push gcp: a raw disk streamed into the storage emulator and registered with the fake Compute API."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import ProviderError, TimeoutExceededError, UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud.provider.types import Artifact
from lkcloud_gcp import archive
from lkcloud_gcp.clients import Api
from lkcloud_gcp.push import PushOptions, push
from tests.providers.gcp.conftest import hurried
from tests.servers.fake_compute import FakeCompute
from tests.servers.gcs_emulator import storage_client

pytestmark = pytest.mark.emulator


def named(artifact: Artifact, name: str) -> Artifact:
    return dataclasses.replace(artifact, image_name=name)


def test_push_raw_disk(api: Api, compute: FakeCompute, raw_disk: Path, gcs_url: str, bucket: str) -> None:
    artifact = from_file(raw_disk, name="hello-gcp", boot_mode=BootMode.HYBRID)
    result = push(api, artifact, PushOptions(labels=("team=os",), keep_upload=True))

    hexdigest = artifact.digest.removeprefix("sha256:")
    assert result.name == f"hello-gcp-{hexdigest[:12]}" and not result.reused
    assert result.id.endswith(f"/global/images/{result.name}") and result.scope == {"project": api.project}
    assert result.family == "hello-gcp" and result.digest == artifact.digest and result.arch == "amd64"
    (insert,) = compute.recorded("POST", r"/global/images$")
    body = insert.body or {}
    assert body["family"] == "hello-gcp" and body["architecture"] == "X86_64"
    assert body["rawDisk"]["containerType"] == "TAR"
    assert body["rawDisk"]["source"].startswith(f"https://storage.googleapis.com/{bucket}/lkcloud/hello-gcp-")
    assert {f["type"] for f in body["guestOsFeatures"]} == {"UEFI_COMPATIBLE", "VIRTIO_SCSI_MULTIQUEUE", "GVNIC"}
    assert body["labels"] == {"team": "os", "lkcloud-managed": "true", "lkcloud-family": "hello-gcp",
                              "lkcloud-digest": f"sha256-{hexdigest}"[:63]}
    assert body["description"] == f"lkcloud image {artifact.digest}"
    assert uuid.UUID(insert.query["requestId"][0]).version == 4
    # the operation was polled through the fake, never through compute.googleapis.com
    assert compute.recorded("POST", r"/global/operations/operation-\d+/wait")

    object_name = body["rawDisk"]["source"].split(f"/{bucket}/", 1)[1]
    stored = storage_client(gcs_url).bucket(bucket).blob(object_name).download_as_bytes()
    assert stored == b"".join(archive.gce_archive(raw_disk))
    assert result.bytes_sent == len(stored) and result.bytes_skipped == 0


def test_push_again_reuses_and_replace_recreates(api: Api, compute: FakeCompute, raw_disk: Path) -> None:
    artifact = from_file(raw_disk, name="again")
    first = push(api, artifact, PushOptions())
    again = push(api, artifact, PushOptions())
    assert again.reused and again.id == first.id and again.bytes_sent == 0
    assert len(compute.recorded("POST", r"/global/images$")) == 1
    push(api, artifact, PushOptions(replace=True))
    assert len(compute.recorded("DELETE", rf"/global/images/{first.name}$")) == 1
    assert len(compute.recorded("POST", r"/global/images$")) == 2


def test_same_name_other_content_is_refused(api: Api, compute: FakeCompute, raw_disk: Path, tmp_path: Path) -> None:
    push(api, named(from_file(raw_disk), "fixed"), PushOptions())
    other = tmp_path / "other.raw"
    other.write_bytes(b"\1" * 4096)
    with pytest.raises(UsageError, match="image fixed already exists with other content"):
        push(api, named(from_file(other), "fixed"), PushOptions())


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
    assert (insert.body or {})["family"] == "os"
    assert "UEFI_COMPATIBLE" not in {f["type"] for f in (insert.body or {})["guestOsFeatures"]}
    (blob,) = storage_client(gcs_url).bucket(bucket).list_blobs()
    assert blob.download_as_bytes() == built.read_bytes()


def test_arm64_image(api: Api, compute: FakeCompute, raw_disk: Path) -> None:
    result = push(api, from_file(raw_disk, name="arm", arch=Arch.ARM64), PushOptions())
    (insert,) = compute.recorded("POST", r"/global/images$")
    assert (insert.body or {})["architecture"] == "ARM64" and result.arch == "arm64"


def test_family_is_folded_to_gce_rules(api: Api, compute: FakeCompute, raw_disk: Path) -> None:
    result = push(api, from_file(raw_disk, name="LinuxKit_v1.2"), PushOptions())
    assert result.family == "linuxkit-v1-2" and result.name.startswith("linuxkit-v1-2-")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (("Bad_Name", PushOptions()), "image name 'Bad_Name' is not a valid GCE name"),
        (("x" * 64, PushOptions()), "is not a valid GCE name"),
        ((None, PushOptions(labels=("NoEquals",))), "label 'NoEquals'"),
        ((None, PushOptions(features=("WARP_DRIVE",))), "unknown guest OS feature WARP_DRIVE"),
    ],
)
def test_bad_names_fail_before_any_api_call(api: Api, compute: FakeCompute, raw_disk: Path,
                                            case: tuple[str | None, PushOptions], message: str) -> None:
    name, options = case
    artifact = dataclasses.replace(from_file(raw_disk, name="ok"), image_name=name)
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        push(api, artifact, options)
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


def test_push_waits_for_an_image_still_pending(api: Api, compute: FakeCompute, raw_disk: Path) -> None:
    """A push interrupted while GCE imports the image: the rerun finds it PENDING and waits for it."""
    artifact = from_file(raw_disk, name="slow")
    compute.hold_operations = True
    with pytest.raises(TimeoutExceededError):
        push(hurried(api, operation=0.2), artifact, PushOptions())
    (name,) = compute.images
    assert compute.images[name]["status"] == "PENDING"
    threading.Timer(0.3, lambda: setattr(compute, "hold_operations", False)).start()
    result = push(api, artifact, PushOptions())
    assert result.reused and compute.images[name]["status"] == "READY"
    assert len(compute.recorded("POST", r"/global/images$")) == 1


def test_push_again_after_a_failed_import(api: Api, compute: FakeCompute, raw_disk: Path) -> None:
    artifact = from_file(raw_disk, name="bad")
    compute.fail_next_image = True
    with pytest.raises(ProviderError, match="IMAGE_IMPORT_FAILED"):
        push(api, artifact, PushOptions())
    (name,) = compute.images
    assert compute.images[name]["status"] == "FAILED"
    result = push(api, artifact, PushOptions())
    assert not result.reused and compute.images[name]["status"] == "READY"
    assert len(compute.recorded("DELETE", rf"/global/images/{name}$")) == 1
