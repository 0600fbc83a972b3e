"""The fallback upload: the image to S3 (:mod:`lkcloud_aws.s3_upload`), then ImportSnapshot, polled
until it finishes.

ImportSnapshot is idempotent through its ClientToken (derived from the digest, bucket and key); a
replayed token names the first task, so a task that finished long ago with a snapshot since
deleted (pruned) is imported again under a fresh token. Right after ``--create-role``, AWS may
still say the role does not exist (IAM propagation): that is retried for ``aws.iam-seconds``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lkcloud.errors import ProviderError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.calls import Transient
from lkcloud_aws import tags
from lkcloud_aws.errors import AwsError, error_code
from lkcloud_aws.s3_upload import upload_object
from lkcloud_aws.session import Aws

ROLE = "vmimport"
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


def check_role(aws: Aws, bucket: str, create: bool) -> bool:
    """The ``vmimport`` service role must exist; with ``create`` it is made with the documented
    policy. Whether it was made now."""
    iam = aws.client("iam")
    try:
        aws.call(f"checking the {ROLE} role", iam.get_role, RoleName=ROLE)
        return False
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
    return True


def _task(aws: Aws, task_id: str) -> dict[str, Any]:
    found = aws.call(f"checking import task {task_id}", aws.client("ec2").describe_import_snapshot_tasks,
                     ImportTaskIds=[task_id])["ImportSnapshotTasks"]
    # Right after ImportSnapshot the task may not be listed yet: not done, keep polling.
    return dict(found[0]) if found else {"ImportTaskId": task_id, "SnapshotTaskDetail": {"Status": "not listed yet"}}


def _imported(task: dict[str, Any]) -> bool:
    detail = task.get("SnapshotTaskDetail", {})
    if detail.get("Status") in ("deleted", "deleting", "error"):
        raise ProviderError(f"ImportSnapshot {task['ImportTaskId']} failed: {detail.get('StatusMessage', '')}")
    return bool(detail.get("Status") == "completed")


def _role_not_ready(error: BaseException) -> Transient | None:
    """ImportSnapshot's answer while a role just created has not reached every AWS endpoint."""
    if error_code(error) == "InvalidParameter" and "service role" in str(error):
        return Transient("the role is not usable yet (IAM propagation)")
    return None


def _exists(aws: Aws, snapshot_id: str) -> bool:
    try:
        aws.call(f"describing snapshot {snapshot_id}", aws.client("ec2").describe_snapshots, SnapshotIds=[snapshot_id])
    except AwsError as exc:
        if exc.code == "InvalidSnapshot.NotFound":
            return False
        raise
    return True


def _start_import(aws: Aws, *, name: str, digest: str, bucket: str, key: str, new_role: bool) -> str:
    """The import task for s3://bucket/key: a new one, or the one the token replays while its
    snapshot still exists."""
    iam_budget = aws.calls.budget.scaled(max(aws.tuning.retry, aws.tuning.iam)) if new_role else None
    salt = ""
    for _ in range(2):
        token = hashlib.sha256(f"{digest}:{bucket}:{key}:{salt}".encode()).hexdigest()[:64]
        started = aws.call("starting ImportSnapshot", aws.client("ec2").import_snapshot, ClientToken=token,
                           RoleName=ROLE, Description=f"lkcloud {name} {digest}"[:255], budget=iam_budget,
                           also=_role_not_ready if new_role else None,
                           DiskContainer={"Format": "RAW", "UserBucket": {"S3Bucket": bucket, "S3Key": key}})
        detail = started.get("SnapshotTaskDetail", {})
        finished = detail.get("Status") in ("completed", "deleted", "deleting", "error")
        if not finished or (detail.get("SnapshotId") and _exists(aws, str(detail["SnapshotId"]))):
            return str(started["ImportTaskId"])
        salt = f"{started['ImportTaskId']}-{time.time_ns()}"  # a replayed task whose snapshot is gone
    raise ProviderError(f"ImportSnapshot keeps naming a finished task whose snapshot is gone ({salt})")


def import_snapshot(aws: Aws, path: Path, digest: str, *, name: str, bucket: str | None, part_size: int,
                    create_role: bool = False, reporter: Reporter = NULL) -> ImportResult:
    """Upload ``path`` to S3 and import it as an EBS snapshot tagged with ``digest``."""
    bucket = check_bucket(aws, bucket)
    new_role = check_role(aws, bucket, create_role)
    key = f"lkcloud/{name}-{digest.removeprefix('sha256:')[:16]}.raw"
    uploaded = upload_object(aws, path, bucket, key, digest=digest, part_size=part_size, reporter=reporter)
    reporter.step(f"importing s3://{bucket}/{key} as a snapshot (this can take a long time)")
    task_id = _start_import(aws, name=name, digest=digest, bucket=bucket, key=key, new_role=new_role)
    task = aws.wait(f"import task {task_id}", lambda: _task(aws, task_id), _imported,
                    progress=lambda found: (found.get("SnapshotTaskDetail", {}).get("Status"),
                                            found.get("SnapshotTaskDetail", {}).get("Progress")))
    snapshot_id = str(task["SnapshotTaskDetail"]["SnapshotId"])
    aws.call(f"tagging snapshot {snapshot_id}", aws.client("ec2").create_tags, fresh=("InvalidSnapshot.NotFound",),
             Resources=[snapshot_id], Tags=tags.tag_list(tags.standard(digest, name)))
    return ImportResult(snapshot_id, bucket, key, task_id, uploaded.parts_sent, uploaded.parts_reused,
                        uploaded.bytes_sent)


__all__ = ["ImportResult", "check_bucket", "check_role", "import_snapshot"]
