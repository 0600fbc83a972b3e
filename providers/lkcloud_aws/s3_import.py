"""The fallback upload: S3 multipart (parallel, resumable) and ImportSnapshot (polled with a deadline).

Resuming: an object already uploaded with the same digest is reused; otherwise an unfinished
multipart upload for the key is continued, and parts whose ETag equals the MD5 of the local part
are not sent again. ImportSnapshot is idempotent through its ClientToken (derived from the digest).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lkcloud.errors import ProviderError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud_aws import tags
from lkcloud_aws.errors import AwsError
from lkcloud_aws.session import Aws, not_found

ROLE = "vmimport"
MIN_PART = 5 << 20
MAX_PARTS = 10000
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "vmie.amazonaws.com"}, "Action": "sts:AssumeRole",
                   "Condition": {"StringEquals": {"sts:Externalid": "vmimport"}}}],
}


def role_policy(bucket: str) -> dict[str, Any]:
    """The vmimport role's permissions (AWS VM Import's documented policy, for one bucket)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"],
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
            {"Effect": "Allow", "Action": ["ec2:ModifySnapshotAttribute", "ec2:CopySnapshot", "ec2:RegisterImage",
                                           "ec2:Describe*"], "Resource": "*"},
        ],
    }


@dataclass(frozen=True)
class ImportResult:
    snapshot_id: str
    bucket: str
    key: str
    task_id: str
    parts_sent: int
    parts_reused: int
    bytes_sent: int


def check_bucket(aws: Aws, bucket: str | None) -> str:
    if not bucket:
        raise UsageError("--method import needs an S3 bucket", hint="pass --bucket or set aws.bucket")
    try:
        aws.call(f"checking bucket {bucket}", aws.client("s3").head_bucket, Bucket=bucket)
    except ProviderError as exc:
        raise UsageError(f"S3 bucket {bucket!r} does not exist or is not accessible: {exc.message}",
                         hint="create the bucket in the push region, or pass another --bucket") from exc
    return bucket


def check_role(aws: Aws, bucket: str, create: bool) -> None:
    """The ``vmimport`` service role must exist; with ``create`` it is made with the documented policy."""
    iam = aws.client("iam")
    try:
        aws.call(f"checking the {ROLE} role", iam.get_role, RoleName=ROLE)
        return
    except AwsError as exc:
        if exc.code != "NoSuchEntity":
            raise
    if not create:
        raise UsageError(f"the IAM role {ROLE!r} that ImportSnapshot needs does not exist",
                         hint="pass --create-role to create it, or use --method direct (no role needed)")
    aws.call(f"creating the {ROLE} role", iam.create_role, RoleName=ROLE,
             AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
             Description="VM Import/Export service role (created by lkcloud)")
    aws.call(f"granting the {ROLE} role access to {bucket}", iam.put_role_policy, RoleName=ROLE, PolicyName=ROLE,
             PolicyDocument=json.dumps(role_policy(bucket)))


def _parts(size: int, part_size: int) -> Iterator[tuple[int, int, int]]:
    part_size = max(MIN_PART, part_size, -(-size // MAX_PARTS))
    for number, offset in enumerate(range(0, size, part_size), start=1):
        yield number, offset, min(part_size, size - offset)


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def _open_upload(aws: Aws, bucket: str, key: str, digest: str) -> tuple[str, dict[int, str]]:
    """An unfinished multipart upload for ``key`` (continued) or a new one; its stored parts' ETags."""
    s3 = aws.client("s3")
    uploads = aws.call("listing unfinished uploads", s3.list_multipart_uploads, Bucket=bucket,
                       Prefix=key).get("Uploads", [])
    for upload in uploads:
        if upload["Key"] == key:
            found = aws.call("listing stored parts", s3.list_parts, Bucket=bucket, Key=key,
                             UploadId=upload["UploadId"])
            return upload["UploadId"], {p["PartNumber"]: p["ETag"].strip('"') for p in found.get("Parts", [])}
    created = aws.call(f"starting an upload to s3://{bucket}/{key}", s3.create_multipart_upload, Bucket=bucket,
                       Key=key, Metadata={"lkcloud-digest": digest})
    return str(created["UploadId"]), {}


def _existing_object(aws: Aws, bucket: str, key: str, digest: str) -> bool:
    try:
        head = aws.call(f"checking s3://{bucket}/{key}", aws.client("s3").head_object, Bucket=bucket, Key=key)
    except ProviderError:
        return False
    stored: str | None = head.get("Metadata", {}).get("lkcloud-digest")
    return stored == digest


def upload_object(aws: Aws, path: Path, bucket: str, key: str, *, digest: str, part_size: int,
                  reporter: Reporter = NULL) -> tuple[int, int, int]:
    """Upload ``path`` to s3://bucket/key; (parts sent, parts reused, bytes sent)."""
    if _existing_object(aws, bucket, key, digest):
        return 0, 0, 0
    upload_id, stored = _open_upload(aws, bucket, key, digest)
    size = path.stat().st_size
    task = reporter.task(f"uploading {path.name} to s3://{bucket}/{key}", total=size)
    clients = aws.shards("s3", aws.tuning.shards, 8)

    def send(part: tuple[int, int, int]) -> tuple[int, str, int]:
        number, offset, length = part
        data = _read(path, offset, length)
        md5 = hashlib.md5(data, usedforsecurity=False)
        sent = 0
        if stored.get(number) != md5.hexdigest():
            aws.call(f"uploading part {number}", clients[number % len(clients)].upload_part, Bucket=bucket, Key=key,
                     UploadId=upload_id, PartNumber=number, Body=data,
                     ContentMD5=base64.b64encode(md5.digest()).decode())
            sent = length
        task.advance(length)
        return number, md5.hexdigest(), sent

    with ThreadPoolExecutor(max_workers=min(8, aws.tuning.concurrency)) as pool:
        done = list(pool.map(send, _parts(size, part_size)))
    task.done()
    aws.call(f"completing s3://{bucket}/{key}", aws.client("s3").complete_multipart_upload, Bucket=bucket, Key=key,
             UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": n, "ETag": f'"{etag}"'}
                                                            for n, etag, _ in done]})
    sent = [b for _, _, b in done if b]
    return len(sent), len(done) - len(sent), sum(sent)


def _task(aws: Aws, task_id: str) -> dict[str, Any]:
    found = aws.call(f"checking import task {task_id}", aws.client("ec2").describe_import_snapshot_tasks,
                     ImportTaskIds=[task_id])
    return dict(found["ImportSnapshotTasks"][0])


def _imported(task: dict[str, Any]) -> bool:
    detail = task.get("SnapshotTaskDetail", {})
    if detail.get("Status") in ("deleted", "deleting", "error"):
        raise ProviderError(f"ImportSnapshot {task['ImportTaskId']} failed: {detail.get('StatusMessage', '')}")
    return bool(detail.get("Status") == "completed")


def import_snapshot(aws: Aws, path: Path, digest: str, *, name: str, bucket: str | None, part_size: int,
                    create_role: bool = False, reporter: Reporter = NULL) -> ImportResult:
    """Upload ``path`` to S3 and import it as an EBS snapshot tagged with ``digest``."""
    bucket = check_bucket(aws, bucket)
    check_role(aws, bucket, create_role)
    key = f"lkcloud/{name}-{digest.removeprefix('sha256:')[:16]}.raw"
    sent, reused, nbytes = upload_object(aws, path, bucket, key, digest=digest, part_size=part_size, reporter=reporter)
    token = hashlib.sha256(f"{digest}:{bucket}:{key}".encode()).hexdigest()[:64]
    reporter.step(f"importing s3://{bucket}/{key} as a snapshot (this can take a long time)")
    started = aws.call("starting ImportSnapshot", aws.client("ec2").import_snapshot, ClientToken=token, RoleName=ROLE,
                       Description=f"lkcloud {name} {digest}"[:255],
                       DiskContainer={"Format": "RAW", "UserBucket": {"S3Bucket": bucket, "S3Key": key}})
    task_id = str(started["ImportTaskId"])
    task = aws.wait(f"import task {task_id}", lambda: _task(aws, task_id), _imported,
                    progress=lambda found: (found.get("SnapshotTaskDetail", {}).get("Status"),
                                            found.get("SnapshotTaskDetail", {}).get("Progress")))
    snapshot_id = str(task["SnapshotTaskDetail"]["SnapshotId"])
    aws.call(f"tagging snapshot {snapshot_id}", aws.client("ec2").create_tags,
             also=not_found("InvalidSnapshot.NotFound"), Resources=[snapshot_id],
             Tags=tags.tag_list(tags.standard(digest, name)))
    return ImportResult(snapshot_id, bucket, key, task_id, sent, reused, nbytes)


__all__ = ["ImportResult", "check_bucket", "check_role", "import_snapshot", "upload_object"]
