"""--method import: S3 multipart (resumable), the vmimport role, ImportSnapshot polled to completion."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud_aws import s3_upload
from lkcloud_aws.choices import Method
from lkcloud_aws.provider import AwsProvider
from lkcloud_aws.session import Aws
from tests.providers.aws.conftest import MIB, Moto, provider, random_image
from tests.providers.aws.test_ebs_upload import assert_same_content

pytestmark = pytest.mark.emulator
PART = 5 * MIB


def importer(bucket: str | None = "images", create_role: bool = False) -> AwsProvider:
    made = provider(method=Method.IMPORT, bucket=bucket, create_role=create_role)
    made.options = dataclasses.replace(made.options, part_size=PART)
    return made


def test_import_push_round_trip_with_created_role(aws: Aws, tmp_path: Path) -> None:
    aws.client("s3").create_bucket(Bucket="images")
    disk = random_image(tmp_path / "disk.raw", size=23 * MIB + 7, blocks=5)
    result = importer(create_role=True).push(from_file(disk))
    upload = result.details["upload"]
    assert upload["parts_sent"] == 5 and upload["task_id"].startswith("import-snap-")
    assert_same_content(aws, result.details["snapshot_id"], disk)
    role = aws.client("iam").get_role(RoleName="vmimport")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "vmie.amazonaws.com"}
    (ami,) = aws.client("ec2").describe_images(ImageIds=[result.id])["Images"]
    assert ami["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == result.details["snapshot_id"]


def test_missing_bucket_and_role_are_clear_errors_before_any_upload(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    disk = from_file(random_image(tmp_path / "disk.raw", size=8 * MIB, blocks=2))
    with pytest.raises(UsageError, match="needs an S3 bucket"):
        importer(bucket=None).push(disk)
    with pytest.raises(UsageError, match="bucket 'images' does not exist"):
        importer().push(disk)
    aws.client("s3").create_bucket(Bucket="images")
    with pytest.raises(UsageError, match="role 'vmimport'") as caught:
        importer().push(disk)
    assert caught.value.hint and "--create-role" in caught.value.hint
    assert aws.client("s3").list_objects_v2(Bucket="images").get("KeyCount", 0) == 0
    assert aws.client("s3").list_multipart_uploads(Bucket="images").get("Uploads", []) == []


def test_interrupted_multipart_upload_reuses_stored_parts(aws: Aws, tmp_path: Path) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="images")
    disk = random_image(tmp_path / "disk.raw", size=17 * MIB, blocks=8, seed=4)
    digest = "sha256:" + "cd" * 32
    key = "lkcloud/disk.raw"
    upload_id = s3.create_multipart_upload(Bucket="images", Key=key)["UploadId"]
    data = disk.read_bytes()
    for number in (1, 3):  # an earlier run stored parts 1 and 3
        s3.upload_part(Bucket="images", Key=key, UploadId=upload_id, PartNumber=number,
                       Body=data[(number - 1) * PART:number * PART])
    done = s3_upload.upload_object(aws, disk, "images", key, digest=digest, part_size=PART)
    assert (done.parts_sent, done.parts_reused) == (2, 2) and done.bytes_sent == PART + (len(data) - 3 * PART)
    stored = s3.get_object(Bucket="images", Key=key)["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()


def kms_bucket(aws: Aws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="images")
    s3.put_bucket_encryption(Bucket="images", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/aws/s3"}}]})


def test_kms_bucket_completes_with_the_etags_s3_returned(aws: Aws, tmp_path: Path) -> None:
    """With default SSE-KMS encryption ETags are not MD5s: completion uses the ETags S3 gave."""
    kms_bucket(aws)
    disk = random_image(tmp_path / "disk.raw", size=12 * MIB + 5, blocks=4, seed=31)
    result = importer(create_role=True).push(from_file(disk))
    assert_same_content(aws, result.details["snapshot_id"], disk)


def test_kms_bucket_resume_reads_every_page_of_stored_parts(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    """An interrupted upload to an SSE-KMS bucket resumes: stored parts (listed over several
    ListParts pages) are not sent again, and completion names their ETags."""
    kms_bucket(aws)
    aws_env.behave(max_parts_per_page=1)
    s3 = aws.client("s3")
    disk = random_image(tmp_path / "disk.raw", size=22 * MIB, blocks=8, seed=32)
    key = "lkcloud/disk.raw"
    upload_id = s3.create_multipart_upload(Bucket="images", Key=key)["UploadId"]
    data = disk.read_bytes()
    for number in (1, 3, 4):  # an earlier run stored parts 1, 3 and 4
        s3.upload_part(Bucket="images", Key=key, UploadId=upload_id, PartNumber=number,
                       Body=data[(number - 1) * PART:number * PART])
    done = s3_upload.upload_object(aws, disk, "images", key, digest="sha256:" + "ef" * 32, part_size=PART)
    assert (done.parts_sent, done.parts_reused) == (2, 3)
    stored = s3.get_object(Bucket="images", Key=key)["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()


def test_import_replay_naming_a_deleted_snapshot_imports_again(aws: Aws, aws_env: Moto, tmp_path: Path) -> None:
    """ImportSnapshot's token replays the first task, whose snapshot prune has since deleted."""
    aws.client("s3").create_bucket(Bucket="images")
    disk = from_file(random_image(tmp_path / "disk.raw", size=9 * MIB, blocks=3, seed=33))
    first = importer(create_role=True).push(disk)
    ec2 = aws.client("ec2")
    ec2.deregister_image(ImageId=first.id)
    ec2.delete_snapshot(SnapshotId=first.details["snapshot_id"])
    again = importer().push(disk)
    assert again.details["snapshot_id"] != first.details["snapshot_id"]
    assert_same_content(aws, again.details["snapshot_id"], disk.path)


def test_a_role_just_created_is_waited_for(aws: Aws, aws_env: Moto, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after --create-role, ImportSnapshot says the role does not exist (IAM propagation)."""
    aws_env.behave(iam_propagation=2.0)
    monkeypatch.setenv("LKCLOUD_AWS_RETRY_SECONDS", "0.5")
    aws.client("s3").create_bucket(Bucket="images")
    disk = random_image(tmp_path / "disk.raw", size=8 * MIB, blocks=2, seed=34)
    result = importer(create_role=True).push(from_file(disk))
    assert_same_content(aws, result.details["snapshot_id"], disk)


def test_an_import_task_not_yet_listed_is_waited_for(aws: Aws, aws_env: Moto, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Right after ImportSnapshot, DescribeImportSnapshotTasks may list nothing, and the imported
    snapshot may not be found yet."""
    aws_env.behave(describe_lag=1.0)
    monkeypatch.setenv("LKCLOUD_AWS_RETRY_SECONDS", "0.5")
    aws.client("s3").create_bucket(Bucket="images")
    disk = random_image(tmp_path / "disk.raw", size=8 * MIB, blocks=2, seed=35)
    result = importer(create_role=True).push(from_file(disk))
    assert_same_content(aws, result.details["snapshot_id"], disk)
