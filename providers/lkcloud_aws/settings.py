"""AWS settings, declared once: ``aws.*`` keys, ``LKCLOUD_AWS_*`` variables, ``[aws]`` in lkcloud.toml."""

from __future__ import annotations

from lkcloud.settings import declare

REGION = declare("aws.region", None, "AWS region (default: boto3's chain, AWS_REGION / AWS_DEFAULT_REGION)")
BUCKET = declare("aws.bucket", None, "S3 bucket for --method import")
METHOD = declare("aws.method", "direct", "upload method: direct (EBS direct APIs) or import (S3 + ImportSnapshot)")
INSTANCE_TYPE = declare("aws.instance-type", "t3.micro", "instance type for run and fleets")
SUBNET = declare("aws.subnet", None, "subnet id for run and fleets")
SECURITY_GROUP = declare("aws.security-group", None, "security group id for run and fleets")
KEY_NAME = declare("aws.key-name", None, "EC2 key pair name for run")
CONCURRENCY = declare("aws.concurrency", 64, "EBS blocks (or S3 parts) in flight during an upload")
CLIENT_SHARDS = declare("aws.client-shards", 8, "separate HTTP clients the upload spreads blocks over")
ATTEMPTS = declare("aws.attempts", 6, "attempts per request on throttling, 5xx and connection errors")
READ_TIMEOUT = declare("aws.read-timeout", 20.0, "seconds: per-attempt read timeout")
CONNECT_TIMEOUT = declare("aws.connect-timeout", 10.0, "seconds: per-attempt connect timeout")
DEADLINE = declare("aws.deadline", 3600.0, "seconds: overall deadline of one upload, import or wait")
POLL = declare("aws.poll-seconds", 5.0, "seconds between status polls (snapshots, imports, refreshes)")
SNAPSHOT_TIMEOUT = declare("aws.snapshot-timeout", 240, "minutes an unfinished EBS direct snapshot stays resumable")
PART_SIZE = declare("aws.part-size", 64 * 1024 * 1024, "bytes per S3 multipart part (--method import)")
JOURNAL_DIR = declare("aws.journal-dir", "~/.lkcloud/aws-uploads", "where EBS uploads journal stored blocks")
