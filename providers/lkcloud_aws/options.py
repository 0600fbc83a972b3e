"""The AWS provider's own options (no SDK import: the CLI builds its flags from this table)."""

from __future__ import annotations

from lkcloud.provider.options import ALL, LAUNCH, ProviderOption, ProviderOptions, Verb
from lkcloud_aws import settings as s
from lkcloud_aws.choices import Method

PUSH = frozenset({Verb.PUSH})

OPTIONS = ProviderOptions(options=(
    ProviderOption("region", ("--region",), "AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's)",
                   verbs=ALL, setting=s.REGION),
    ProviderOption("profile", ("--profile",), "AWS profile from ~/.aws/config (else AWS_PROFILE)", verbs=ALL,
                   setting=s.PROFILE),
    ProviderOption("method", ("--method",), "upload: direct (EBS direct APIs) or import (S3 + ImportSnapshot)",
                   type=Method, verbs=PUSH, setting=s.METHOD),
    ProviderOption("parent", ("--parent",), "SNAPSHOT or none: the snapshot an incremental push builds on (default:"
                   " the newest of the family whose blocks are known; none: send every block)", verbs=PUSH,
                   setting=s.PARENT),
    ProviderOption("bucket", ("--bucket",), "S3 bucket for --method import", verbs=PUSH, setting=s.BUCKET),
    ProviderOption("copy_to", ("--copy-to",), "copy the AMI to these regions (repeat or comma-list)", verbs=PUSH,
                   multiple=True),
    ProviderOption("public", ("--public",), "make the AMI public", type=bool, verbs=PUSH),
    ProviderOption("share", ("--share",), "share with these account ids (repeat or comma-list)", verbs=PUSH,
                   multiple=True),
    ProviderOption("tags", ("--tag",), "extra tag KEY=VALUE (repeatable)", verbs=PUSH, multiple=True),
    ProviderOption("ssm_parameter", ("--ssm-parameter",), "SSM parameter to point at the AMI", verbs=PUSH),
    ProviderOption("create_role", ("--create-role",), "create the vmimport role if missing (--method import)",
                   type=bool, verbs=PUSH),
    ProviderOption("tpm", ("--tpm",), "NitroTPM support (UEFI images only)", type=bool, verbs=PUSH),
    ProviderOption("subnet", ("--subnet",), "subnet id", verbs=LAUNCH, setting=s.SUBNET),
    ProviderOption("security_group", ("--security-group",), "security group id", verbs=LAUNCH,
                   setting=s.SECURITY_GROUP),
    ProviderOption("key_name", ("--key-name",), "EC2 key pair name", verbs=LAUNCH, setting=s.KEY_NAME),
))
