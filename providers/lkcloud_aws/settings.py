"""AWS settings, declared once: ``aws.*`` keys, ``LKCLOUD_AWS_*`` variables, ``[aws]`` in lkcloud.toml.

Budgets are time, not attempt counts: a call is retried while its error is transient and its
budget lasts, and long operations count time without progress (an upload that confirms blocks
never runs out).
"""

from __future__ import annotations

from lkcloud.settings import declare

REGION = declare("aws.region", None, "AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region)")
PROFILE = declare("aws.profile", None, "AWS profile from ~/.aws/config (else AWS_PROFILE)")
BUCKET = declare("aws.bucket", None, "S3 bucket for --method import")
METHOD = declare("aws.method", "direct", "upload method: direct (EBS direct APIs) or import (S3 + ImportSnapshot)")
INSTANCE_TYPE = declare("aws.instance-type", None,
                        "instance type for run and fleets (default: templates/fleets.yml, per architecture)")
SUBNET = declare("aws.subnet", None, "subnet id for run and fleets")
SECURITY_GROUP = declare("aws.security-group", None, "security group id for run and fleets")
KEY_NAME = declare("aws.key-name", None, "EC2 key pair name for run")
CONCURRENCY = declare("aws.concurrency", 64, "EBS blocks (or S3 parts) in flight during an upload, at most")
CLIENT_SHARDS = declare("aws.client-shards", 8, "separate HTTP clients the upload spreads blocks over")
CONNECT_TIMEOUT = declare("aws.connect-timeout", 10.0, "seconds: connect timeout of one request")
READ_TIMEOUT = declare("aws.read-timeout", 30.0, "seconds: read timeout of one request")
RETRY_SECONDS = declare("aws.retry-seconds", 120.0,
                        "seconds one call keeps retrying throttling, 5xx and dropped connections")
NOT_FOUND_SECONDS = declare("aws.not-found-seconds", 150.0,
                            "seconds a resource just created may stay invisible (eventual consistency)")
IAM_SECONDS = declare("aws.iam-seconds", 60.0, "seconds a role just created may stay unusable (IAM propagation)")
INACTIVITY_SECONDS = declare("aws.inactivity-seconds", 600.0,
                             "seconds an upload may go without confirming anything before it fails")
WAIT_SECONDS = declare("aws.wait-seconds", 3600.0,
                       "seconds a wait (snapshot, AMI, import) may go without progress before it fails")
REFRESH_MARGIN = declare("aws.refresh-margin-seconds", 900.0,
                         "seconds added to a refresh's warmups and checkpoint pauses for its deadline")
POLL = declare("aws.poll-seconds", 5.0, "seconds between status polls (snapshots, imports, refreshes)")
SNAPSHOT_TIMEOUT = declare("aws.snapshot-timeout", 240, "minutes an unfinished EBS direct snapshot stays resumable")
PART_SIZE = declare("aws.part-size", 64 * 1024 * 1024, "bytes per S3 multipart part (--method import)")
PARENT = declare("aws.parent", None, "snapshot an incremental push builds on, or none for full pushes"
                 " (default: the newest of the family whose blocks are known)")
READ_PARENT = declare("aws.read-parent", True, "with no local block list of the parent, read its block checksums"
                      " back from EBS (a download of its data); false: push in full")
JOURNAL_DIR = declare("aws.journal-dir", "~/.lkcloud/aws-uploads",
                      "where EBS uploads journal stored blocks and keep the block manifests of pushed snapshots")
