"""The data types shared by the image store, the registry client and their users.

``lkcloud.oci.store.ImageStore`` is the entry point for everything downstream:

    store = ImageStore(cache_dir(settings))
    image = store.get("linuxkit/init:v1.0", arch="amd64", pull=False)  # offline first
    for layer in image.layers:
        with store.open_layer(layer) as tar_stream:   # decompressed, digest-verified
            ...
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: str  # "sha256:<hex>"
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    platform: Platform | None = None


@dataclass(frozen=True)
class ContainerConfig:
    """The parts of an image's config (``config`` in the OCI image config) lkcloud uses."""

    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] | None = None
    working_dir: str | None = None
    user: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, key: str) -> str | None:
        return dict(self.labels).get(key)


@dataclass(frozen=True)
class LocalImage:
    """An image whose manifest, config and layers are all present in the cache."""

    reference: str  # normalised, e.g. "docker.io/library/redis:latest"
    manifest_digest: str
    manifest_media_type: str
    config_digest: str
    config: ContainerConfig
    layers: tuple[Descriptor, ...]
    platform: Platform = field(default_factory=Platform)
    # Digest of the index the image was selected from, when the reference named an index.
    index_digest: str | None = None
