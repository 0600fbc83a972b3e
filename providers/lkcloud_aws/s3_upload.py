"""An image file to S3 as a parallel, resumable multipart upload (the ``--method import`` path).

Resuming: an object already uploaded with the same digest is reused; otherwise the unfinished
multipart upload for the key (the key names the content digest) is continued. ListParts is read
page by page (at most 1000 parts a page); a stored part is not sent again when its ETag is the
MD5 of the local part, or, in a bucket encrypted with SSE-KMS (whose ETags are not MD5s), when
its size is the local part's. CompleteMultipartUpload names the ETags S3 returned, never our MD5s.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import ProviderError
from lkcloud.progress import NULL, Reporter
from lkcloud_aws.errors import AwsError
from lkcloud_aws.session import Aws

MIN_PART = 5 << 20
MAX_PARTS = 10000
_NO_ENCRYPTION = ("ServerSideEncryptionConfigurationNotFoundError", "AccessDenied")


@dataclass(frozen=True)
class Stored:
    etag: str  # as S3 returned it, quotes included
    size: int


@dataclass(frozen=True)
class Uploaded:
    parts_sent: int
    parts_reused: int
    bytes_sent: int


def parts(size: int, part_size: int) -> Iterator[tuple[int, int, int]]:
    """(part number, offset, length) of every part; at most 10000 parts, each at least 5 MiB."""
    part_size = max(MIN_PART, part_size, -(-size // MAX_PARTS))
    for number, offset in enumerate(range(0, size, part_size), start=1):
        yield number, offset, min(part_size, size - offset)


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def stored_parts(aws: Aws, bucket: str, key: str, upload_id: str) -> dict[int, Stored]:
    """Every part an unfinished upload holds, across ListParts pages."""
    found: dict[int, Stored] = {}
    marker = 0
    while True:
        page = aws.call("listing stored parts", aws.client("s3").list_parts, Bucket=bucket, Key=key,
                        UploadId=upload_id, PartNumberMarker=marker)
        for part in page.get("Parts", []):
            found[int(part["PartNumber"])] = Stored(str(part["ETag"]), int(part["Size"]))
        if not page.get("IsTruncated") or not page.get("Parts"):
            return found
        marker = int(page.get("NextPartNumberMarker") or max(found))


def _open_upload(aws: Aws, bucket: str, key: str, digest: str) -> tuple[str, dict[int, Stored]]:
    """An unfinished multipart upload for ``key`` (continued) or a new one; its stored parts."""
    s3 = aws.client("s3")
    uploads = aws.call("listing unfinished uploads", s3.list_multipart_uploads, Bucket=bucket,
                       Prefix=key).get("Uploads", [])
    for upload in uploads:
        if upload["Key"] == key:
            return str(upload["UploadId"]), stored_parts(aws, bucket, key, str(upload["UploadId"]))
    created = aws.call(f"starting an upload to s3://{bucket}/{key}", s3.create_multipart_upload, Bucket=bucket,
                       Key=key, Metadata={"lkcloud-digest": digest})
    return str(created["UploadId"]), {}


def _kms(aws: Aws, bucket: str) -> bool:
    """Whether the bucket encrypts with SSE-KMS by default (its ETags are then not MD5s)."""
    try:
        found = aws.call(f"reading the encryption of {bucket}", aws.client("s3").get_bucket_encryption, Bucket=bucket)
    except AwsError as exc:
        if exc.code in _NO_ENCRYPTION:
            return False
        raise
    rules = found.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return any(str(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "")).startswith("aws:kms")
               for r in rules)


def _existing_object(aws: Aws, bucket: str, key: str, digest: str) -> bool:
    try:
        head = aws.call(f"checking s3://{bucket}/{key}", aws.client("s3").head_object, Bucket=bucket, Key=key)
    except ProviderError:
        return False
    stored: str | None = head.get("Metadata", {}).get("lkcloud-digest")
    return stored == digest


def upload_object(aws: Aws, path: Path, bucket: str, key: str, *, digest: str, part_size: int,
                  reporter: Reporter = NULL) -> Uploaded:
    """Upload ``path`` to s3://bucket/key (reused or resumed when it can be)."""
    if _existing_object(aws, bucket, key, digest):
        return Uploaded(0, 0, 0)
    upload_id, stored = _open_upload(aws, bucket, key, digest)
    trust_size = bool(stored) and _kms(aws, bucket)
    size = path.stat().st_size
    task = reporter.task(f"uploading {path.name} to s3://{bucket}/{key}", total=size)
    clients = aws.shards("s3", aws.tuning.shards, 8)

    def send(part: tuple[int, int, int]) -> tuple[int, str, int]:
        number, offset, length = part
        data = _read(path, offset, length)
        md5 = hashlib.md5(data, usedforsecurity=False)
        held = stored.get(number)
        if held is not None and held.size == length and (held.etag.strip('"') == md5.hexdigest() or trust_size):
            task.advance(length)
            return number, held.etag, 0
        answer = aws.call(f"uploading part {number}", clients[number % len(clients)].upload_part, Bucket=bucket,
                          Key=key, UploadId=upload_id, PartNumber=number, Body=data,
                          ContentMD5=base64.b64encode(md5.digest()).decode())
        task.advance(length)
        return number, str(answer["ETag"]), length

    with ThreadPoolExecutor(max_workers=min(8, aws.tuning.concurrency)) as pool:
        done = list(pool.map(send, parts(size, part_size)))
    task.done()
    aws.call(f"completing s3://{bucket}/{key}", aws.client("s3").complete_multipart_upload, Bucket=bucket, Key=key,
             UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag, _ in done]})
    sent = [b for _, _, b in done if b]
    return Uploaded(len(sent), len(done) - len(sent), sum(sent))
