"""The typed model of a LinuxKit configuration.

This is the contract between the loader (``lkcloud.spec.load``) and everything downstream
(assembly, formats). Field names follow LinuxKit's YAML keys in snake_case. ``None`` means
"not set in the YAML", which matters: LinuxKit's precedence (YAML > image label > image config)
replaces whole values only when a field is set. Frozen dataclasses; tuples instead of lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Union

# A JSON value as parsed from YAML (used for OCI structures passed through verbatim, such as
# LinuxResources, which lkcloud validates by schema but does not interpret).
JSON = Union[None, bool, int, float, str, list["JSON"], dict[str, "JSON"]]  # noqa: UP007 (recursive alias)


@dataclass(frozen=True)
class Location:
    """Where a value came from: file and 1-based line; ``path`` is the key path."""

    file: str
    line: int
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}"


@dataclass(frozen=True)
class Mount:
    """An OCI mount (``mounts:`` and ``runtime.mounts:``); type and destination may be absent."""

    destination: str | None = None
    type: str | None = None
    source: str | None = None
    options: tuple[str, ...] | None = None
    uid_mappings: tuple[IDMapping, ...] | None = None
    gid_mappings: tuple[IDMapping, ...] | None = None


@dataclass(frozen=True)
class IDMapping:
    container_id: int
    host_id: int
    size: int


@dataclass(frozen=True)
class Device:
    """``devices:`` entry; ``path: all`` is a cgroup allow rule for every device."""

    path: str
    type: str
    major: int = 0
    minor: int = 0
    mode: str | None = None  # octal string, e.g. "0666"


@dataclass(frozen=True)
class Interface:
    name: str | None = None
    add: str | None = None
    peer: str | None = None
    create_in_root: bool = False


@dataclass(frozen=True)
class BindNS:
    cgroup: str | None = None
    ipc: str | None = None
    mnt: str | None = None
    net: str | None = None
    pid: str | None = None
    user: str | None = None
    uts: str | None = None


@dataclass(frozen=True)
class Runtime:
    """``runtime:``: processed by LinuxKit's init at boot, not part of the OCI spec."""

    cgroups: tuple[str, ...] | None = None
    mounts: tuple[Mount, ...] | None = None
    mkdir: tuple[str, ...] | None = None
    interfaces: tuple[Interface, ...] | None = None
    bind_ns: BindNS | None = None
    namespace: str | None = None


Id = int | str  # a uid/gid: a number, or a container name resolved at build time


@dataclass(frozen=True)
class ImageConfig:
    """The per-image fields: valid in YAML and in the ``org.mobyproject.config`` label."""

    capabilities: tuple[str, ...] | None = None
    capabilities_add: tuple[str, ...] | None = None  # YAML key "capabilities.add"
    ambient: tuple[str, ...] | None = None
    mounts: tuple[Mount, ...] | None = None
    binds: tuple[str, ...] | None = None
    binds_add: tuple[str, ...] | None = None  # YAML key "binds.add"
    devices: tuple[Device, ...] | None = None
    tmpfs: tuple[str, ...] | None = None
    command: tuple[str, ...] | None = None
    env: tuple[str, ...] | None = None
    cwd: str | None = None
    net: str | None = None
    pid: str | None = None
    ipc: str | None = None
    uts: str | None = None
    userns: str | None = None
    hostname: str | None = None
    readonly: bool | None = None
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None
    uid: Id | None = None
    gid: Id | None = None
    additional_gids: tuple[Id, ...] | None = None
    no_new_privileges: bool | None = None
    oom_score_adj: int | None = None
    rootfs_propagation: str | None = None
    cgroups_path: str | None = None
    resources: JSON = None  # OCI LinuxResources, passed through
    sysctl: tuple[tuple[str, str], ...] | None = None  # sorted (key, value) pairs
    rlimits: tuple[str, ...] | None = None  # "nofile,100,200"; validated by the loader
    uid_mappings: tuple[IDMapping, ...] | None = None
    gid_mappings: tuple[IDMapping, ...] | None = None
    annotations: tuple[tuple[str, str], ...] | None = None  # sorted (key, value) pairs
    runtime: Runtime | None = None


@dataclass(frozen=True)
class Image:
    """An onboot, onshutdown or service entry."""

    name: str
    image: str  # the reference as written in the YAML
    config: ImageConfig = field(default_factory=ImageConfig)
    location: Location | None = None


@dataclass(frozen=True)
class Kernel:
    image: str | None = None
    cmdline: str | None = None
    binary: str | None = None  # default "kernel"
    tar: str | None = None  # default "kernel.tar"; "" or "none" = no modules tar
    ucode: str | None = None
    location: Location | None = None

    @property
    def binary_name(self) -> str:
        return self.binary or "kernel"

    @property
    def tar_name(self) -> str | None:
        if self.tar is None:
            return "kernel.tar"
        return None if self.tar in ("", "none") else self.tar


class MetadataFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


@dataclass(frozen=True)
class File:
    path: str  # leading "/" stripped; never leaves the root
    directory: bool = False
    symlink: str | None = None
    contents: str | None = None
    source: str | None = None  # "~/" expanded by the loader
    metadata: MetadataFormat | None = None
    optional: bool = False
    mode: int | None = None  # default 0o600, directories 0o700
    uid: Id | None = None
    gid: Id | None = None
    location: Location | None = None


class VolumeFormat(StrEnum):
    FILESYSTEM = "filesystem"
    OCI = "oci"


@dataclass(frozen=True)
class Volume:
    name: str
    image: str | None = None
    readonly: bool = False
    format: VolumeFormat = VolumeFormat.FILESYSTEM
    platforms: tuple[str, ...] = ()
    location: Location | None = None


@dataclass(frozen=True)
class Config:
    """A whole (possibly merged) LinuxKit configuration."""

    kernel: Kernel = field(default_factory=Kernel)
    init: tuple[str, ...] = ()
    onboot: tuple[Image, ...] = ()
    onshutdown: tuple[Image, ...] = ()
    services: tuple[Image, ...] = ()
    files: tuple[File, ...] = ()
    volumes: tuple[Volume, ...] = ()
    sources: tuple[str, ...] = ()  # the files it was loaded from, in order
