"""S3 multipart uploads as AWS behaves and moto does not.

- With default SSE-KMS encryption on the bucket (or SSE-KMS asked for at CreateMultipartUpload),
  a part's ETag is not the MD5 of its bytes: "Objects encrypted by SSE-C or SSE-KMS have ETags that
  are not an MD5 digest of their object data"
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html), and CompleteMultipartUpload
  needs the ETags UploadPart returned.
- ListParts pages: parts numbered after PartNumberMarker, at most MaxParts (AWS: at most 1000,
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html; ``max_parts_per_page`` makes
  pages small enough to test), with IsTruncated when more follow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import moto_ext_behaviour as behaviour
from moto.s3.models import FakeKey, FakeMultipart, S3Backend

_original_upload_part = S3Backend.upload_part


def _kms(backend: S3Backend, bucket_name: str, multipart: FakeMultipart) -> bool:
    rule = (backend.get_bucket(bucket_name).encryption or {}).get("Rule", {})
    default = rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
    return "aws:kms" in (default, multipart.sse_encryption)


def upload_part(self: S3Backend, bucket_name: str, multipart_id: str, part_id: int, value: bytes) -> FakeKey:
    key = _original_upload_part(self, bucket_name, multipart_id, part_id, value)
    if _kms(self, bucket_name, self.get_bucket(bucket_name).multiparts[multipart_id]):
        key._etag = hashlib.sha256(b"kms:" + bytes(value)).hexdigest()[:32]  # not the MD5 of the data
    return key


def list_parts(self: FakeMultipart, part_number_marker: int, max_parts: int) -> Iterator[FakeKey]:
    page = min(max_parts, int(behaviour.get("max_parts_per_page")))
    after = [number for number in self.partlist if number > part_number_marker]
    for number in after[:page]:
        yield self.parts[number]


def is_truncated(self: S3Backend, bucket_name: str, multipart_id: str, next_part_number_marker: Any) -> bool:
    parts = self.get_bucket(bucket_name).multiparts[multipart_id].partlist
    return any(number > int(next_part_number_marker) for number in parts)


def install() -> None:
    S3Backend.upload_part = upload_part  # type: ignore[method-assign]
    S3Backend.is_truncated = is_truncated  # type: ignore[method-assign]
    FakeMultipart.list_parts = list_parts  # type: ignore[method-assign]
