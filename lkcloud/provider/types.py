"""The values every provider takes and returns: one shape for AWS, GCP, Azure and QEMU.

Results are frozen dataclasses; the CLI renders them as text or, under ``--json``, as JSON with
the same keys on every provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from lkcloud.platform import Arch, BootMode


class Health(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    STARTING = "starting"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Artifact:
    """A built image ready to push: a file in one of the provider's accepted formats."""

    path: Path
    name: str  # the image family (the build's name): prune keeps the newest N per family
    digest: str  # "sha256:<hex>" of the file's content; names and tags resources idempotently
    boot_mode: BootMode = BootMode.HYBRID
    arch: Arch = Arch.AMD64
    size: int = 0  # bytes; the virtual disk size
    kind: str = "raw"  # what the file is (lkcloud.diskfile.Kind): raw, vhd, gce-tar, qcow2, kernel...
    image_name: str | None = None  # the image's name when the user chose one (--name)


@dataclass(frozen=True)
class PushResult:
    provider: str
    id: str  # AMI id, GCE image self-link, Azure image or gallery version id, local path
    name: str
    family: str = ""
    digest: str = ""
    arch: str = "amd64"
    locations: tuple[tuple[str, str], ...] = ()  # (region, image id) for every copy
    reused: bool = False  # an identical image already existed: nothing was uploaded
    bytes_sent: int = 0
    bytes_skipped: int = 0  # zero blocks, blocks an earlier attempt stored, or blocks the parent holds
    parent: str | None = None  # an incremental push: what the upload built on
    scope: dict[str, str] = field(default_factory=dict)  # where it lives (region, project, ...): option values
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Instance:
    id: str
    image: str
    state: str
    health: Health = Health.UNKNOWN
    address: str | None = None
    port: int | None = None  # QEMU: the forwarded host port
    version: str | None = None  # launch-template version, instance template, model...


@dataclass(frozen=True)
class RunRequest:
    image: str  # an image id the provider resolved (resolve_image) or knows
    name: str | None = None
    count: int = 1
    user_data: bytes | None = None  # LinuxKit user-data JSON
    instance_type: str | None = None
    console: bool = False
    arch: Arch = Arch.AMD64


@dataclass(frozen=True)
class RunResult:
    provider: str
    instances: tuple[Instance, ...]
    console: str | None = None


@dataclass(frozen=True)
class UpdatePolicy:
    """A rolling update, in the terms every provider can map to its own."""

    max_surge: int = 1
    max_unavailable: int = 0
    min_healthy_percent: int = 90
    warmup_seconds: int = 60
    canary_percent: int | None = None  # stop at this percent of the fleet for `pause_seconds`
    pause_seconds: int = 60
    auto_rollback: bool = True


@dataclass(frozen=True)
class HealthCheck:
    """An HTTP health check: GET ``path`` on ``port`` must answer 200 (``ok VERSION``)."""

    path: str = "/healthz"
    port: int = 8080
    interval_seconds: float = 10.0
    timeout_seconds: float = 5.0
    grace_seconds: float = 300.0  # for a new instance to become healthy before a refresh gives up


@dataclass(frozen=True)
class FleetSpec:
    name: str
    image: str  # an image id the provider resolved
    size: int
    user_data: bytes | None = None
    instance_type: str | None = None
    arch: Arch = Arch.AMD64
    policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    health: HealthCheck = field(default_factory=HealthCheck)


@dataclass(frozen=True)
class FleetStatus:
    provider: str
    name: str
    size: int
    image: str
    instances: tuple[Instance, ...] = ()
    state: str = "unknown"  # stable, changing, ...


@dataclass(frozen=True)
class RefreshResult:
    """A refresh's outcome. ``succeeded`` False means the rollout stopped (old instances serving);
    providers return it rather than raise, so every provider exits 1 the same way."""

    provider: str
    name: str
    succeeded: bool
    old_image: str
    new_image: str
    message: str = ""
    status: FleetStatus | None = None


@dataclass(frozen=True)
class ImageRecord:
    provider: str
    id: str
    name: str
    created: str  # ISO 8601; the newest first is the order prune keeps
    family: str = ""
    digest: str = ""
    in_use: bool = False  # an instance or a fleet uses it: never pruned
    arch: str = ""  # amd64 or arm64 where the provider knows it; prune keeps N per family and arch
    details: dict[str, Any] = field(default_factory=dict)
