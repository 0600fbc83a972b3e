"""The lazy registry: a provider name maps to where its class and its option table live.

The class is imported on first use, so a missing extra becomes a clear hint
(``pip install 'lkcloud[aws]'``) rather than an ImportError; the option table lives in an
SDK-free module, so the CLI can show every provider's flags without importing any SDK.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, cast

from lkcloud.diskfile import Kind
from lkcloud.errors import ProviderUnavailableError
from lkcloud.provider.interface import Provider
from lkcloud.provider.options import ProviderOptions
from lkcloud.settings import Settings


@dataclass(frozen=True)
class ProviderEntry:
    name: str
    target: str  # module:Class
    options: str  # module:OPTIONS (no SDK import)
    extra: str | None  # the pip extra that brings the SDK
    image_format: str  # what `push NAME FILE.yml` builds
    accepts: tuple[Kind, ...]  # the image files push takes
    local_files: bool = False  # run and fleets use an image file in place (QEMU), rather than push it


def _entry(name: str, cls: str, extra: str | None, image_format: str, accepts: tuple[Kind, ...], *,
           local_files: bool = False) -> ProviderEntry:
    package = f"lkcloud_{name}"
    return ProviderEntry(name, f"{package}.provider:{cls}", f"{package}.options:OPTIONS", extra, image_format,
                         accepts, local_files)


PROVIDERS: dict[str, ProviderEntry] = {
    "qemu": _entry("qemu", "QemuProvider", None, "kernel+initrd",
                   (Kind.KERNEL, Kind.RAW, Kind.QCOW2, Kind.VHD, Kind.DYNAMIC_VHD, Kind.VMDK, Kind.ISO),
                   local_files=True),
    "aws": _entry("aws", "AwsProvider", "aws", "aws", (Kind.RAW, Kind.VHD, Kind.VMDK)),
    "gcp": _entry("gcp", "GcpProvider", "gcp", "gcp", (Kind.GCE_TAR, Kind.RAW)),
    "azure": _entry("azure", "AzureProvider", "azure", "vhd", (Kind.VHD,)),
}
CLOUDS = ("aws", "gcp", "azure")


def entry(name: str) -> ProviderEntry:
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ProviderUnavailableError(f"unknown provider {name!r}", hint=f"choose one of: {known}") from None


def _load(target: str, found: ProviderEntry) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'lkcloud[{found.extra}]'" if found.extra else "reinstall lkcloud"
        raise ProviderUnavailableError(f"provider {found.name!r} is not available: {exc}", hint=hint) from exc
    return getattr(module, attr)


def provider_class(name: str) -> type[Provider]:
    """The provider's class, imported on first use."""
    found = entry(name)
    return cast("type[Provider]", _load(found.target, found))


def options(name: str) -> ProviderOptions:
    """The provider's option table (its module imports no SDK)."""
    found = entry(name)
    return cast(ProviderOptions, _load(found.options, found))


def load(name: str, settings: Settings | None = None, **flags: Any) -> Provider:
    """The provider ``name`` built from settings and the flags its option table declares."""
    return provider_class(name).from_settings(settings or Settings(), **flags)
