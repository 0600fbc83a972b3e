"""--method import: S3 multipart (resumable), the vmimport role, ImportSnapshot polled to completion."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from lkcloud.artifact import from_file
from lkcloud.errors import UsageError
from lkcloud_aws import s3_import
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
    sent, reused, nbytes = s3_import.upload_object(aws, disk, "images", key, digest=digest, part_size=PART)
    assert (sent, reused) == (2, 2) and nbytes == PART + (len(data) - 3 * PART)
    stored = s3.get_object(Bucket="images", Key=key)["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
