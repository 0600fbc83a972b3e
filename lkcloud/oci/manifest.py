"""Reading manifests, indexes and image configs; choosing a platform from an index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lkcloud.errors import ImageNotFoundError, RegistryError
from lkcloud.oci import media
from lkcloud.oci.api import ContainerConfig, Descriptor, Platform
from lkcloud.oci.layout import descriptor_from, load_json

# Spellings of architectures people and tools use, to the OCI names.
ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armv7l": "arm"}


def oci_arch(arch: str) -> str:
    return ARCH_ALIASES.get(arch, arch)


class PlatformMissingError(ImageNotFoundError):
    """The image is there, but not for the architecture asked for: an index without it, or a
    single-architecture image of another one."""


@dataclass(frozen=True)
class Manifest:
    """An image manifest's config and layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


def media_type_of(data: bytes, declared: str | None, what: str) -> str:
    """The manifest's media type: its own ``mediaType`` field, else the declared one
    (Content-Type or descriptor), else inferred from its shape."""
    doc = load_json(data, what)
    own = doc.get("mediaType")
    if isinstance(own, str) and own:
        return own
    base = (declared or "").split(";")[0].strip()
    if base in media.INDEX_TYPES | media.MANIFEST_TYPES:
        return base
    return media.OCI_INDEX if "manifests" in doc else media.OCI_MANIFEST


def is_index(media_type: str) -> bool:
    return media_type in media.INDEX_TYPES


def parse_manifest(data: bytes, what: str) -> Manifest:
    doc = load_json(data, what)
    try:
        config = descriptor_from(doc["config"])
        layers = tuple(descriptor_from(layer) for layer in doc.get("layers") or [])
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"{what} is not an image manifest: {exc}") from exc
    return Manifest(str(doc.get("mediaType") or media.OCI_MANIFEST), config, layers)


def parse_index(data: bytes, what: str) -> list[Descriptor]:
    doc = load_json(data, what)
    try:
        return [descriptor_from(item) for item in doc.get("manifests") or []]
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{what} is not an image index: {exc}") from exc


def is_attestation(desc: Descriptor) -> bool:
    plat = desc.platform
    unknown = plat is not None and plat.os == "unknown" and plat.architecture == "unknown"
    return unknown or dict(desc.annotations).get(media.REFERENCE_TYPE) == "attestation-manifest"


def select(entries: list[Descriptor], arch: str, variant: str | None, what: str) -> Descriptor:
    """The entry for linux/``arch`` (and ``variant`` only when asked), attestations skipped."""
    wanted = oci_arch(arch)
    candidates = [e for e in entries if not is_attestation(e) and e.media_type not in media.INDEX_TYPES]
    for entry in candidates:
        plat = entry.platform
        if plat is None or plat.architecture != wanted or plat.os not in ("linux", ""):
            continue
        if variant is None or plat.variant == variant:
            return entry
    offered = ", ".join(sorted({str(e.platform) for e in candidates if e.platform})) or "none"
    raise PlatformMissingError(
        f"{what} has no image for linux/{wanted}{'/' + variant if variant else ''} (it offers: {offered})",
        hint="choose another architecture with --arch",
    )


def _strings(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def parse_config(data: bytes, what: str) -> tuple[ContainerConfig, Platform, tuple[str, ...]]:
    """The runtime config, platform and ``rootfs.diff_ids`` of an image config blob."""
    doc = load_json(data, what)
    inner = doc.get("config") or {}
    labels = inner.get("Labels") or {}
    config = ContainerConfig(
        entrypoint=_strings(inner.get("Entrypoint")),
        cmd=_strings(inner.get("Cmd")),
        env=_strings(inner.get("Env")),
        working_dir=inner.get("WorkingDir") or None,
        user=inner.get("User") or None,
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
    )
    platform = Platform(
        os=str(doc.get("os") or "linux"),
        architecture=str(doc.get("architecture") or "amd64"),
        variant=doc.get("variant") or None,
    )
    diff_ids = tuple(str(d) for d in (doc.get("rootfs") or {}).get("diff_ids") or [])
    return config, platform, diff_ids


def config_document(
    config: ContainerConfig, platform: Platform, diff_ids: list[str], created: str
) -> dict[str, Any]:
    """An OCI image config for an image made locally."""
    inner: dict[str, Any] = {}
    for key, value in (
        ("Entrypoint", config.entrypoint),
        ("Cmd", config.cmd),
        ("Env", config.env),
        ("WorkingDir", config.working_dir),
        ("User", config.user),
    ):
        if value is not None:
            inner[key] = list(value) if isinstance(value, tuple) else value
    if config.labels:
        inner["Labels"] = dict(config.labels)
    doc: dict[str, Any] = {
        "architecture": platform.architecture,
        "config": inner,
        "created": created,
        "os": platform.os,
        "rootfs": {"diff_ids": diff_ids, "type": "layers"},
    }
    if platform.variant:
        doc["variant"] = platform.variant
    return doc


def check_platform(platform: Platform, arch: str, what: str) -> None:
    """Refuse a single-architecture image whose config says another architecture than ``arch``."""
    if platform.architecture != oci_arch(arch):
        raise PlatformMissingError(
            f"{what} is a single-architecture image for {platform}, not linux/{oci_arch(arch)}",
            hint=f"build for {platform.architecture} (--arch {platform.architecture}), or use a multi-architecture "
                 f"image (lkcloud pkg build --arch {oci_arch(arch)} adds that architecture to lkcloud's own)",
        )
