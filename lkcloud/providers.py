"""The provider interface, and the lazy registry of providers.

A provider turns a built image into something that runs: it pushes the image (AMI, GCE image,
Azure image, or a local file for QEMU), runs instances, manages fleets (the platform's own
managed groups), and lists and prunes the images it made. Provider-specific knobs (region,
bucket, upload method...) are the provider's own typed settings, given to its constructor; the
methods here take only what every provider shares.

Providers live in ``providers/lkcloud_<name>`` and are imported on first use, so a missing
optional dependency becomes a clear install hint rather than an ImportError.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from lkcloud.errors import ProviderUnavailableError
from lkcloud.platform import BootMode
from lkcloud.progress import NULL, Reporter

__all__ = ["BootMode"]


class Health(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    STARTING = "starting"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Artifact:
    """A built image ready to push: a disk image file in the provider's format."""

    path: Path
    name: str
    digest: str  # "sha256:<hex>" of the file's content; names and tags resources idempotently
    boot_mode: BootMode = BootMode.HYBRID
    arch: str = "amd64"
    size: int = 0  # bytes; the virtual disk size


@dataclass(frozen=True)
class PushResult:
    provider: str
    name: str
    image_id: str  # AMI id, GCE image self-link, Azure image resource id, local path
    locations: tuple[tuple[str, str], ...] = ()  # (region, image id) for every copy
    reused: bool = False  # an identical image already existed
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
    image: str  # an image id/name known to the provider (for QEMU: a path or NAME prefix)
    name: str | None = None
    count: int = 1
    user_data: bytes | None = None  # LinuxKit user-data JSON
    instance_type: str | None = None
    console: bool = False


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
    canary_percent: int | None = None
    pause_seconds: int = 0
    auto_rollback: bool = True


@dataclass(frozen=True)
class FleetSpec:
    name: str
    image: str
    size: int
    user_data: bytes | None = None
    instance_type: str | None = None
    policy: UpdatePolicy = field(default_factory=UpdatePolicy)


@dataclass(frozen=True)
class FleetStatus:
    provider: str
    name: str
    size: int
    image: str
    instances: tuple[Instance, ...] = ()
    state: str = "unknown"


@dataclass(frozen=True)
class RefreshResult:
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
    created: str  # ISO 8601
    in_use: bool = False
    details: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """What every provider implements (AWS, GCP, Azure, QEMU)."""

    name: str
    image_format: str  # the `lkcloud build -f` format push expects (aws, gcp, vhd, ...)

    def push(self, artifact: Artifact, reporter: Reporter = NULL) -> PushResult: ...

    def run(self, request: RunRequest, reporter: Reporter = NULL) -> RunResult: ...

    def fleet_create(self, spec: FleetSpec, reporter: Reporter = NULL) -> FleetStatus: ...

    def fleet_status(self, name: str) -> FleetStatus: ...

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus: ...

    def fleet_refresh(
        self,
        name: str,
        image: str,
        user_data: bytes | None = None,
        policy: UpdatePolicy | None = None,
        reporter: Reporter = NULL,
    ) -> RefreshResult: ...

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None: ...

    def images_list(self) -> list[ImageRecord]: ...

    def images_prune(self, keep: int, reporter: Reporter = NULL, dry_run: bool = False) -> list[ImageRecord]: ...


@dataclass(frozen=True)
class ProviderEntry:
    """Where a provider lives: ``module:Class`` for the provider, ``module:function`` for its
    CLI registration, and the pip extra that brings its SDK."""

    name: str
    target: str
    cli: str
    extra: str | None
    image_format: str


def _entry(name: str, cls: str, extra: str | None, image_format: str) -> ProviderEntry:
    package = f"lkcloud_{name}"
    return ProviderEntry(name, f"{package}.provider:{cls}", f"{package}.cli:register", extra, image_format)


PROVIDERS: dict[str, ProviderEntry] = {
    "qemu": _entry("qemu", "QemuProvider", None, "qcow2-bios"),
    "aws": _entry("aws", "AwsProvider", "aws", "aws"),
    "gcp": _entry("gcp", "GcpProvider", "gcp", "gcp"),
    "azure": _entry("azure", "AzureProvider", "azure", "vhd"),
}


def entry(name: str) -> ProviderEntry:
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ProviderUnavailableError(f"unknown provider {name!r}", hint=f"choose one of: {known}") from None


def _load(target: str, provider: ProviderEntry) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'lkcloud[{provider.extra}]'" if provider.extra else "reinstall lkcloud"
        raise ProviderUnavailableError(
            f"provider {provider.name!r} is not available: {exc}", hint=hint
        ) from exc
    return getattr(module, attr)


def provider_class(name: str) -> Callable[..., Provider]:
    """The provider's class, imported on first use."""
    found = entry(name)
    cls: Callable[..., Provider] = _load(found.target, found)
    return cls


def cli_registrar(name: str) -> Callable[..., None]:
    """The provider's CLI registration function (its module imports no SDK)."""
    found = entry(name)
    register: Callable[..., None] = _load(found.cli, found)
    return register
