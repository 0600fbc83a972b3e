"""Push = snapshot + AMI: attributes AWS needs, idempotency, copies, sharing, SSM, clean failures."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import CredentialsError, ProviderError, UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud.provider.types import Artifact
from lkcloud_aws import ebs_upload, image
from lkcloud_aws.image import ImageSpec
from lkcloud_aws.session import Aws
from tests.providers.aws.conftest import REGION, SMALL, Moto, provider, random_image

pytestmark = pytest.mark.emulator


def snapshots(aws: Aws) -> list[dict[str, Any]]:
    return list(aws.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"])


@pytest.fixture
def artifact(tmp_path: Path) -> Artifact:
    return from_file(random_image(tmp_path / "myos.raw", size=SMALL, blocks=6), boot_mode=BootMode.UEFI)


def test_push_registers_an_ami_with_what_aws_needs(aws: Aws, artifact: Artifact) -> None:
    result = provider(tpm=True, tags=("team=os",)).push(artifact)
    (ami,) = aws.client("ec2").describe_images(ImageIds=[result.id])["Images"]
    assert ami["Name"] == result.name == f"myos-{artifact.digest[7:19]}"
    assert ami["Architecture"] == "x86_64" and ami["RootDeviceName"] == "/dev/xvda"
    assert ami["BootMode"] == "uefi" and ami["EnaSupport"] is True and ami["SriovNetSupport"] == "simple"
    assert ami["ImdsSupport"] == "v2.0" and ami["TpmSupport"] == "v2.0"
    (mapping,) = ami["BlockDeviceMappings"]
    assert mapping["DeviceName"] == "/dev/xvda"
    assert mapping["Ebs"] == {"SnapshotId": result.details["snapshot_id"], "VolumeSize": 1, "VolumeType": "gp3",
                              "DeleteOnTermination": True}
    tags = {t["Key"]: t["Value"] for t in ami["Tags"]}
    assert tags["lkcloud:digest"] == artifact.digest and tags["lkcloud:family"] == "myos" and tags["team"] == "os"
    assert result.locations == ((REGION, result.id),)
    assert result.family == "myos" and result.digest == artifact.digest and result.arch == "amd64"
    assert result.scope == {"region": REGION} and result.bytes_sent > 0 and not result.reused


def test_push_again_reuses_everything(aws: Aws, aws_env: Moto, artifact: Artifact) -> None:
    first = provider().push(artifact)
    puts = aws_env.counts()["puts"]
    again = provider().push(artifact)
    assert again.reused and again.id == first.id and again.bytes_sent == 0
    assert aws_env.counts()["puts"] == puts, "nothing was uploaded again"
    assert len(snapshots(aws)) == 1


def test_same_name_other_content_is_a_clear_error_without_orphans(aws: Aws, artifact: Artifact,
                                                                   tmp_path: Path) -> None:
    provider().push(dataclasses.replace(artifact, image_name="myos"))
    other = from_file(random_image(tmp_path / "other.raw", size=SMALL, blocks=3, seed=99))
    with pytest.raises(UsageError, match=r"'myos' is already used .* other content"):
        provider().push(dataclasses.replace(other, image_name="myos"))
    assert len(snapshots(aws)) == 1


def test_failed_registration_deletes_the_snapshot_it_made(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    disk = random_image(tmp_path / "disk.raw", size=SMALL, blocks=2)
    uploaded = ebs_upload.upload(aws, disk, "sha256:" + "ab" * 32, name="disk", journal_dir=tmp_path / "j")
    spec = ImageSpec(name="disk", digest="sha256:" + "ab" * 32, family="disk")
    with pytest.raises(ProviderError, match="RegisterImage"):
        # the extended server refuses an unknown architecture, like AWS
        image.register(aws, uploaded.snapshot_id, dataclasses.replace(spec, arch="sparc"),  # type: ignore[arg-type]
                       owned_snapshot=True)
    assert snapshots(aws) == []


def test_copy_share_and_ssm(aws: Aws, artifact: Artifact) -> None:
    result = provider(copy_to=("eu-west-1", "us-west-2"), share=("123456789012",), public=True,
                      ssm_parameter="/lkcloud/myos/latest").push(artifact)
    regions = dict(result.locations)
    assert set(regions) == {REGION, "eu-west-1", "us-west-2"}
    for region, image_id in regions.items():
        ec2 = aws.client("ec2", region)
        (ami,) = ec2.describe_images(ImageIds=[image_id])["Images"]
        assert ami["Name"] == result.name and ami["BootMode"] == "uefi"
        assert {"Key": "lkcloud:digest", "Value": artifact.digest} in ami["Tags"]
        grants = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"]
        assert {"Group": "all"} in grants and {"UserId": "123456789012"} in grants
        parameter = aws.client("ssm", region).get_parameter(Name="/lkcloud/myos/latest")["Parameter"]
        assert parameter["Value"] == image_id and parameter["DataType"] == "aws:ec2:image"
    again = provider(copy_to=("eu-west-1", "us-west-2")).push(artifact)
    assert dict(again.locations) == regions


def test_arm64_and_boot_mode_rules(aws: Aws, artifact: Artifact) -> None:
    with pytest.raises(UsageError, match="arm64 AMIs boot with UEFI only"):
        provider().push(dataclasses.replace(artifact, arch=Arch.ARM64, boot_mode=BootMode.BIOS))
    with pytest.raises(UsageError, match="--tpm needs --boot-mode uefi"):
        provider(tpm=True).push(dataclasses.replace(artifact, boot_mode=BootMode.HYBRID))
    result = provider().push(dataclasses.replace(artifact, arch=Arch.ARM64))
    assert result.arch == "arm64"
    (ami,) = aws.client("ec2").describe_images(ImageIds=[result.id])["Images"]
    assert ami["Architecture"] == "arm64" and ami["BootMode"] == "uefi"
    assert snapshots(aws)[0]["SnapshotId"] == result.details["snapshot_id"]


def test_image_larger_than_a_snapshot_is_refused_before_anything_is_made(aws: Aws, artifact: Artifact) -> None:
    huge = Artifact(path=artifact.path, name="huge", digest=artifact.digest, size=(64 << 40) + 1)
    with pytest.raises(UsageError, match="at most 65536 GiB"):
        provider().push(huge)
    assert snapshots(aws) == []


def test_no_credentials_is_a_clear_error(aws_env: Moto, artifact: Artifact, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CredentialsError, match="no AWS credentials found") as caught:
        provider()
    assert caught.value.hint and "AWS_PROFILE" in caught.value.hint


# -- AWS as it really behaves (tests/servers/moto_ext_behaviour.py switches each behaviour on) -------

def ami(aws: Aws, image_id: str, region: str = REGION) -> dict[str, Any]:
    (found,) = aws.client("ec2", region).describe_images(ImageIds=[image_id])["Images"]
    return dict(found)


def test_new_amis_and_copies_not_yet_visible_are_waited_for(aws: Aws, aws_env: Moto, artifact: Artifact,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after RegisterImage and CopyImage, DescribeImages and CreateTags may not find the AMI."""
    aws_env.behave(describe_lag=1.5)
    monkeypatch.setenv("LKCLOUD_AWS_RETRY_SECONDS", "0.3")
    result = provider(copy_to=("eu-west-1",)).push(artifact)
    time.sleep(1.5)  # the lag itself, so that the test can look
    for region, image_id in result.locations:
        assert ami(aws, image_id, region)["State"] == "available"


def test_a_pending_ami_left_by_a_killed_push_is_waited_for(aws: Aws, aws_env: Moto, artifact: Artifact,
                                                           tmp_path: Path) -> None:
    aws_env.behave(ami_pending_seconds=1.5)
    made = provider()
    spec = made.image_spec(artifact)
    uploaded = ebs_upload.upload(aws, artifact.path, artifact.digest, name="myos", journal_dir=tmp_path / "j")
    killed = image._register_call(aws, uploaded.snapshot_id, spec)  # the push died right after RegisterImage
    assert ami(aws, killed)["State"] == "pending"
    result = made.push(artifact)
    assert result.id == killed and result.reused
    assert ami(aws, killed)["State"] == "available", "the push returned only once the AMI was available"


def test_a_failed_ami_is_registered_again(aws: Aws, aws_env: Moto, artifact: Artifact) -> None:
    first = provider().push(artifact)
    aws.client("ec2").create_tags(Resources=[first.id], Tags=[{"Key": "lkcloud-test:state", "Value": "failed"}])
    again = provider().push(artifact)
    assert again.id != first.id and ami(aws, again.id)["State"] == "available"
    assert not aws.client("ec2").describe_images(Filters=[{"Name": "image-id", "Values": [first.id]}])["Images"]
    assert len(snapshots(aws)) == 1, "the snapshot is reused"


def test_copies_are_tagged_by_copyimage_itself(aws: Aws, aws_env: Moto, artifact: Artifact) -> None:
    """A copy is never left untagged: no separate CreateTags call can fail after CopyImage."""
    aws_env.behave(fail={"CreateTags": {"code": "UnauthorizedOperation", "count": 1}})
    result = provider(copy_to=("eu-west-1",)).push(artifact)
    copy = dict(result.locations)["eu-west-1"]
    assert {"Key": "lkcloud:digest", "Value": artifact.digest} in ami(aws, copy, "eu-west-1")["Tags"]
    again = provider(copy_to=("eu-west-1",)).push(artifact)
    assert dict(again.locations)["eu-west-1"] == copy


def test_the_ssm_parameter_is_checked_after_asynchronous_validation(aws: Aws, aws_env: Moto,
                                                                    artifact: Artifact) -> None:
    """SSM validates aws:ec2:image values after PutParameter has answered: the push reads the
    parameter back before it reports success."""
    aws_env.behave(ssm_validation_seconds=1.0)
    result = provider(ssm_parameter="/lkcloud/myos/latest").push(artifact)
    parameter = aws.client("ssm").get_parameter(Name="/lkcloud/myos/latest")["Parameter"]
    assert parameter["Value"] == result.id
