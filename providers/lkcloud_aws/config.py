"""Typed options of the AWS provider, resolved once from flags, LKCLOUD_AWS_*, lkcloud.toml, defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkcloud.errors import UsageError
from lkcloud.settings import Setting, Settings
from lkcloud_aws import settings as keys
from lkcloud_aws.choices import Arch, AwsBootMode, Method
from lkcloud_aws.instances import Placement
from lkcloud_aws.session import Tuning


@dataclass(frozen=True)
class PushOptions:
    name: str | None = None  # AMI name; default <family>-<digest[:12]>
    method: Method | None = None  # default: aws.method (direct)
    boot_mode: AwsBootMode | None = None  # default: from the artifact's boot mode
    arch: Arch | None = None  # default: from the artifact
    bucket: str | None = None
    copy_to: tuple[str, ...] = ()
    public: bool = False
    share: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    ssm_parameter: str | None = None
    create_role: bool = False
    tpm: bool = False


@dataclass(frozen=True)
class AwsOptions:
    region: str | None = None
    push: PushOptions = field(default_factory=PushOptions)
    placement: Placement = field(default_factory=lambda: Placement("t3.micro"))
    tuning: Tuning = field(default_factory=Tuning)
    journal_dir: Path = field(default_factory=lambda: Path("~/.lkcloud/aws-uploads").expanduser())
    part_size: int = 64 << 20
    snapshot_timeout: int = 240  # minutes

    @classmethod
    def resolve(cls, settings: Settings | None = None, *, push: PushOptions | None = None,
                **flags: Any) -> AwsOptions:
        """Options from ``flags`` (None = not given) over env, config files and defaults."""
        s = settings or Settings()

        def get(setting: Setting, flag: Any = None) -> Any:
            return s.get(setting, flag)

        try:
            tuning = Tuning(concurrency=int(get(keys.CONCURRENCY, flags.get("concurrency"))),
                            shards=int(get(keys.CLIENT_SHARDS)), attempts=int(get(keys.ATTEMPTS)),
                            connect_timeout=float(get(keys.CONNECT_TIMEOUT)),
                            read_timeout=float(get(keys.READ_TIMEOUT)),
                            deadline=float(get(keys.DEADLINE)), poll=float(get(keys.POLL)))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"invalid aws setting: {exc}") from exc
        push = push or PushOptions()
        method = Method(get(keys.METHOD, push.method))
        bucket = get(keys.BUCKET, push.bucket)
        placement = Placement(str(get(keys.INSTANCE_TYPE, flags.get("instance_type"))),
                              get(keys.SUBNET, flags.get("subnet")),
                              get(keys.SECURITY_GROUP, flags.get("security_group")),
                              get(keys.KEY_NAME, flags.get("key_name")))
        journal = s.path(keys.JOURNAL_DIR)
        assert journal is not None
        return cls(region=get(keys.REGION, flags.get("region")),
                   push=PushOptions(**{**push.__dict__, "method": method, "bucket": bucket}),
                   placement=placement, tuning=tuning, journal_dir=journal, part_size=int(get(keys.PART_SIZE)),
                   snapshot_timeout=int(get(keys.SNAPSHOT_TIMEOUT)))
