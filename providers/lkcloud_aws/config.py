"""The AWS provider's options, resolved once: flag > LKCLOUD_AWS_* > lkcloud.toml > default."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkcloud.errors import UsageError
from lkcloud.settings import Setting, Settings
from lkcloud_aws import settings as keys
from lkcloud_aws.choices import SNAPSHOT_ID, Method
from lkcloud_aws.session import Tuning


@dataclass(frozen=True)
class PushOptions:
    method: Method = Method.DIRECT
    bucket: str | None = None
    copy_to: tuple[str, ...] = ()
    public: bool = False
    share: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    ssm_parameter: str | None = None
    create_role: bool = False
    tpm: bool = False
    parent: str | None = None  # --parent: a snapshot id, "none", or None to choose one
    read_parent: bool = True  # read a parent's block checksums back from EBS when no manifest knows them


@dataclass(frozen=True)
class Placement:
    """Where instances start: the machine type (None: the default for the architecture), network
    and key pair."""

    instance_type: str | None = None
    subnet: str | None = None
    security_group: str | None = None
    key_name: str | None = None


@dataclass(frozen=True)
class AwsOptions:
    region: str | None = None
    profile: str | None = None
    push: PushOptions = field(default_factory=PushOptions)
    placement: Placement = field(default_factory=Placement)
    tuning: Tuning = field(default_factory=Tuning)
    journal_dir: Path = field(default_factory=lambda: Path("~/.lkcloud/aws-uploads").expanduser())
    part_size: int = 64 << 20
    snapshot_timeout: int = 240  # minutes


def parse_tags(values: Iterable[str] | None) -> dict[str, str]:
    """``--tag KEY=VALUE`` values as a mapping; UsageError naming the bad one."""
    pairs = {}
    for value in values or ():
        key, sep, tag = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {value!r}: expected KEY=VALUE")
        pairs[key] = tag
    return pairs


def parent(settings: Settings, flag: str | None, method: Method) -> str | None:
    """--parent > LKCLOUD_AWS_PARENT > aws.parent: a snapshot id or none; UsageError otherwise."""
    value = settings.text(keys.PARENT, flag)
    if value is None:
        return None
    if value != "none" and not SNAPSHOT_ID.fullmatch(value):
        raise UsageError(f"--parent {value!r}: expected a snapshot id (snap-...) or none")
    if method is not Method.DIRECT and value != "none":
        raise UsageError("--parent builds on a snapshot with the EBS direct APIs", hint="use --method direct")
    return value


def _number(settings: Settings, setting: Setting) -> float:
    value = settings.get(setting)
    if not isinstance(value, int | float):
        raise UsageError(f"{setting.key}: expected a number, got {value!r}")
    return float(value)


def tuning(settings: Settings) -> Tuning:
    def number(setting: Setting) -> float:
        return _number(settings, setting)

    return Tuning(concurrency=int(number(keys.CONCURRENCY)), shards=int(number(keys.CLIENT_SHARDS)),
                  connect_timeout=number(keys.CONNECT_TIMEOUT), read_timeout=number(keys.READ_TIMEOUT),
                  retry=number(keys.RETRY_SECONDS), not_found=number(keys.NOT_FOUND_SECONDS),
                  iam=number(keys.IAM_SECONDS), inactivity=number(keys.INACTIVITY_SECONDS),
                  wait=number(keys.WAIT_SECONDS), refresh_margin=number(keys.REFRESH_MARGIN), poll=number(keys.POLL))


def _first(settings: Settings, setting: Setting, flag: str | None, cloud_env: tuple[str, ...]) -> str | None:
    """flag > LKCLOUD_AWS_* > the AWS variables ``cloud_env`` (in order) > lkcloud.toml > None."""
    value, source = settings.resolve(setting, flag)
    if source in ("flag", "env"):
        return str(value)
    for name in cloud_env:
        if os.environ.get(name):
            return os.environ[name]
    return None if value is None else str(value)


def region(settings: Settings, flag: str | None = None) -> str | None:
    """--region > LKCLOUD_AWS_REGION > AWS_REGION > AWS_DEFAULT_REGION > aws.region in lkcloud.toml;
    None leaves it to the profile (``region`` in ~/.aws/config). boto3 reads only
    AWS_DEFAULT_REGION; AWS_REGION, which the other AWS SDKs and the CLI read first, wins here too."""
    return _first(settings, keys.REGION, flag, ("AWS_REGION", "AWS_DEFAULT_REGION"))


def resolve(settings: Settings, **flags: Any) -> AwsOptions:
    """Options from ``flags`` (each None when not given) over the environment, config files and
    defaults."""
    s = settings
    method = Method(str(s.get(keys.METHOD, flags.get("method"))))
    push = PushOptions(
        method=method, bucket=s.text(keys.BUCKET, flags.get("bucket")),
        copy_to=tuple(flags.get("copy_to") or ()), public=bool(flags.get("public")),
        share=tuple(flags.get("share") or ()), tags=parse_tags(flags.get("tags")),
        ssm_parameter=flags.get("ssm_parameter"), create_role=bool(flags.get("create_role")),
        tpm=bool(flags.get("tpm")), parent=parent(s, flags.get("parent"), method),
        read_parent=bool(s.get(keys.READ_PARENT)))
    placement = Placement(s.text(keys.INSTANCE_TYPE), s.text(keys.SUBNET, flags.get("subnet")),
                          s.text(keys.SECURITY_GROUP, flags.get("security_group")),
                          s.text(keys.KEY_NAME, flags.get("key_name")))
    journal = s.path(keys.JOURNAL_DIR)
    assert journal is not None
    return AwsOptions(region=region(s, flags.get("region")), profile=_first(s, keys.PROFILE, flags.get("profile"),
                                                                             ("AWS_PROFILE",)),
                      push=push, placement=placement,
                      tuning=tuning(s), journal_dir=journal, part_size=int(_number(s, keys.PART_SIZE)),
                      snapshot_timeout=int(_number(s, keys.SNAPSHOT_TIMEOUT)))
