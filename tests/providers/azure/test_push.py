"""push azure: Azurite for the page blob, the fake Resource Manager for the image and gallery."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError

from lkcloud.artifact import from_file
from lkcloud.errors import CredentialsError, UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud.provider import render
from lkcloud_azure import push
from lkcloud_azure.calls import AzureErrors, DataRoleMissing
from lkcloud_azure.clients import Api
from lkcloud_azure.push import PushOptions
from tests.providers.azure.conftest import SUBSCRIPTION, make_api
from tests.providers.azure.vhds import MIB, make_vhd
from tests.servers.azurite import ACCOUNT, KEY
from tests.servers.fake_arm import FakeArm

pytestmark = [pytest.mark.emulator]
IMAGES = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/lk-test/providers/Microsoft.Compute/images"


def test_push_uploads_and_creates_a_generalized_image(api: Api, arm: FakeArm, vhd: Path) -> None:
    artifact = from_file(vhd, name="web", boot_mode=BootMode.BIOS)
    result = push.push(api, artifact, PushOptions(tags=("team=os",)))
    name = f"web-{artifact.digest[7:19]}"
    assert result.id == f"{IMAGES}/{name}" and result.name == name and not result.reused
    assert (result.family, result.digest, result.arch) == ("web", artifact.digest, "amd64")
    assert result.scope == {"subscription": SUBSCRIPTION, "resource_group": "lk-test", "location": "westeurope"}
    assert result.bytes_sent > 0 and result.bytes_sent + result.bytes_skipped == vhd.stat().st_size
    (put,) = arm.recorded("PUT", rf"/images/{name}$")
    assert put.authorization == "Bearer test-bearer-token"
    props = put.body["properties"]
    assert props["hyperVGeneration"] == "V1"
    disk = props["storageProfile"]["osDisk"]
    assert (disk["osType"], disk["osState"]) == ("Linux", "Generalized")
    assert disk["blobUri"].endswith(f"/{api.config.container}/web-{artifact.digest[7:23]}.vhd")
    tags = put.body["tags"]
    assert (tags["lkcloud:managed"], tags["lkcloud:digest"], tags["lkcloud:family"]) == ("true", artifact.digest,
                                                                                        "web")
    assert tags["team"] == "os"


def test_same_name_same_content_is_reused_without_upload(api: Api, arm: FakeArm, vhd: Path) -> None:
    artifact = from_file(vhd, name="web")
    push.push(api, artifact, PushOptions())
    again = push.push(api, artifact, PushOptions())
    assert again.reused and again.bytes_sent == 0
    assert len(arm.recorded("PUT", r"/images/web-[0-9a-f]{12}$")) == 1


def test_same_name_other_content_is_a_clear_error(api: Api, vhd: Path, tmp_path: Path) -> None:
    push.push(api, dataclasses.replace(from_file(vhd, name="web"), image_name="web"), PushOptions())
    other = make_vhd(tmp_path / "web.vhd", 8, ((0, MIB),), seed=7)
    with pytest.raises(UsageError, match=r"already exists .* other content"):
        push.push(api, dataclasses.replace(from_file(other, name="web"), image_name="web"), PushOptions())


def test_gallery_version_replicated_from_the_image(api: Api, arm: FakeArm, vhd: Path) -> None:
    options = PushOptions(gallery="lkgallery", definition="web", version="1.2.3", replicate_to=("northeurope",))
    result = push.push(api, from_file(vhd, name="web", boot_mode=BootMode.UEFI), options)
    (definition,) = arm.recorded("PUT", r"/galleries/lkgallery/images/web$")
    assert definition.body["properties"]["hyperVGeneration"] == "V2"
    assert definition.body["properties"]["osState"] == "Generalized"
    (version,) = arm.recorded("PUT", r"/versions/1\.2\.3$")
    assert version.body["properties"]["storageProfile"]["source"]["id"] == result.details["image"]
    regions = [r["name"] for r in version.body["properties"]["publishingProfile"]["targetRegions"]]
    assert regions == ["westeurope", "northeurope"]
    assert result.id.endswith("/galleries/lkgallery/images/web/versions/1.2.3")
    assert [region for region, _ in result.locations] == ["westeurope", "northeurope"]


@pytest.mark.parametrize(("size", "footer"), [(8 * MIB + 512 + 512, True), (8 * MIB + 512, False)])
def test_bad_vhds_are_refused_before_any_call(api: Api, arm: FakeArm, tmp_path: Path, size: int,
                                              footer: bool) -> None:
    path = tmp_path / "bad.vhd"
    if footer:
        make_vhd(path, 8, ((0, MIB),))
        with path.open("ab") as fh:
            fh.write(bytes(512))
    else:
        path.write_bytes(b"\1" * size)
    with pytest.raises(UsageError, match=r"whole number of MiB|no valid fixed VHD footer"):
        push.push(api, from_file(path), PushOptions())
    assert arm.requests == []


def test_missing_resource_group_is_a_clear_error(azure_env: dict[str, str], vhd: Path) -> None:
    api = make_api(azure_env, resource_group="nope")
    with pytest.raises(UsageError, match="Resource group 'nope' could not be found") as caught:
        push.push(api, from_file(vhd), PushOptions())
    assert caught.value.hint and "az group create" in caught.value.hint


def test_operation_polls_survive_throttling_server_errors_and_resets(api: Api, arm: FakeArm, vhd: Path) -> None:
    arm.poll_faults = ["429", "503", "reset", "500"]  # one after another on the status polls
    result = push.push(api, from_file(vhd, name="web"), PushOptions())
    assert arm.poll_faults == [] and result.id.startswith(IMAGES)
    polls = [r for r in arm.requests if r.path.startswith("/operations/")]
    assert len(polls) >= 4 + arm.steps + 1


@pytest.fixture
def account_env(azure_env: dict[str, str], azurite_url: str, arm: FakeArm) -> dict[str, str]:
    """No connection string: the storage account is found through Resource Manager."""
    arm.storage_key = KEY
    arm.add_storage_account("lk-test", ACCOUNT, "westeurope", f"{azurite_url}/{ACCOUNT}/")
    return {key: value for key, value in azure_env.items() if key != "AZURE_STORAGE_CONNECTION_STRING"}


def test_a_storage_account_in_another_region_is_refused_before_any_upload(account_env: dict[str, str],
                                                                          arm: FakeArm, vhd: Path) -> None:
    api = make_api(account_env, storage_account=ACCOUNT, location="northeurope", container="elsewhere")
    with pytest.raises(UsageError, match=f"storage account {ACCOUNT} is in westeurope, the image would be in "
                                         "northeurope"):
        push.push(api, from_file(vhd, name="web"), PushOptions())
    assert arm.recorded("POST", "/listKeys$") == [] and arm.recorded("PUT", "/images/") == []


def test_a_resource_manager_token_never_goes_to_blob_storage(account_env: dict[str, str], arm: FakeArm,
                                                              vhd: Path) -> None:
    api = make_api(account_env, storage_account=ACCOUNT, container="bykey")
    result = push.push(api, from_file(vhd, name="web"), PushOptions())  # AZURE_ACCESS_TOKEN: the key uploads
    assert len(arm.recorded("POST", "/storageAccounts/devstoreaccount1/listKeys$")) == 1
    assert result.bytes_sent > 0


def test_without_data_access_the_error_names_the_role(account_env: dict[str, str], arm: FakeArm, vhd: Path) -> None:
    arm.may_list_keys = False
    api = make_api(account_env, storage_account=ACCOUNT, container="refused")
    with pytest.raises(CredentialsError, match="AZURE_ACCESS_TOKEN holds a Resource Manager token") as caught:
        push.push(api, from_file(vhd, name="web"), PushOptions())
    assert caught.value.hint and "Storage Blob Data Contributor" in caught.value.hint


def test_blob_storage_refusing_entra_id_names_the_data_role() -> None:
    refused = AzureErrors().to_error(_storage_error("AuthorizationPermissionMismatch"), "writing web.vhd")
    assert isinstance(refused, DataRoleMissing) and refused.hint and "Storage Blob Data Contributor" in refused.hint


def _storage_error(code: str) -> HttpResponseError:
    error = HttpResponseError(message="This request is not authorized to perform this operation using this permission.")
    error.status_code, error.error_code = 403, code  # type: ignore[attr-defined]
    return error


def test_arm64_needs_a_gallery(api: Api, arm: FakeArm, vhd: Path) -> None:
    with pytest.raises(UsageError, match="an Arm64 image needs an Azure Compute Gallery"):
        push.push(api, from_file(vhd, name="web", arch=Arch.ARM64), PushOptions())
    assert arm.requests == []


def test_arm64_is_a_gallery_version_made_from_the_vhd(account_env: dict[str, str], arm: FakeArm, vhd: Path) -> None:
    api = make_api(account_env, storage_account=ACCOUNT, container="arm")
    options = PushOptions(gallery="lkg", definition="web-arm", version="1.0.0")
    result = push.push(api, from_file(vhd, name="web", arch=Arch.ARM64), options)
    (definition,) = arm.recorded("PUT", r"/galleries/lkg/images/web-arm$")
    assert definition.body["properties"]["architecture"] == "Arm64"
    (version,) = arm.recorded("PUT", r"/versions/1\.0\.0$")
    source = version.body["properties"]["storageProfile"]["osDiskImage"]["source"]
    assert source["uri"].endswith(".vhd") and source["storageAccountId"].endswith(f"/storageAccounts/{ACCOUNT}")
    assert arm.recorded("PUT", r"/providers/Microsoft.Compute/images/") == []  # no managed image: x64 only
    assert result.arch == "arm64" and result.id.endswith("/versions/1.0.0")
    again = push.push(api, from_file(vhd, name="web", arch=Arch.ARM64), options)
    assert again.reused and again.bytes_sent == 0


def test_a_second_push_of_the_family_builds_on_the_first(api: Api, arm: FakeArm, vhd: Path, tmp_path: Path) -> None:
    first = push.push(api, from_file(vhd, name="web"), PushOptions())
    changed = tmp_path / "changed.vhd"
    changed.write_bytes(vhd.read_bytes())
    with changed.open("r+b") as fh:
        fh.seek(20 * MIB)
        fh.write(b"\x03" * (64 * 1024))
    second = push.push(api, from_file(changed, name="web"), PushOptions())
    assert second.parent == first.details["blob"] and second.bytes_sent == 128 * 1024  # the changed block's data
    assert second.bytes_sent + second.bytes_skipped == changed.stat().st_size
    upload = second.details["upload"]
    assert (upload["mode"], upload["base"], upload["blocks_written"]) == ("incremental", "manifest", 1)
    assert f"sent 128.0 KiB, skipped 23.9 MiB (on top of {first.details['blob']})" in render.push_text(second)
    blob_url = str(second.details["blob"])
    (put,) = arm.recorded("PUT", rf"/images/{second.name}$")
    assert put.body["properties"]["storageProfile"]["osDisk"]["blobUri"] == blob_url
    service = api.clients.blob_service()
    blob = service.get_blob_client(api.config.container, blob_url.rsplit("/", 1)[1])
    assert blob.download_blob().readall() == changed.read_bytes()
    assert push.push(api, from_file(vhd, name="other"), PushOptions()).parent is None  # another family


def test_parent_none_pushes_everything(api: Api, vhd: Path, tmp_path: Path) -> None:
    push.push(api, from_file(vhd, name="web"), PushOptions())
    other = make_vhd(tmp_path / "other.vhd", 24, ((0, MIB),), seed=5)
    result = push.push(api, from_file(other, name="web"), PushOptions(parent="none"))
    assert result.parent is None and result.details["upload"] == {"mode": "full", "resumed": False,
                                                                  "why": "--parent none"}


@pytest.mark.parametrize("parent", ["", "/abs.vhd", "bad\nname"])
def test_a_bad_parent_is_refused_before_any_call(api: Api, arm: FakeArm, vhd: Path, parent: str) -> None:
    with pytest.raises(UsageError, match=r"--parent .*: not a blob name"):
        push.push(api, from_file(vhd, name="web"), PushOptions(parent=parent))
    assert arm.requests == []
