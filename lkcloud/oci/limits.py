"""How much an image may hold: bounds on what unpacking a layer may cost in memory and disk.

Layers come from registries and archives nobody vetted: a 2 MB gzip layer can expand to a
terabyte of zeros, a million empty files, or a PAX header the size of memory. Unpacking
checks each file against ``limits.file-size``, each image's file data against
``limits.image-size`` and its entry count against ``limits.image-entries``; manifests and configs
are capped at :data:`DOCUMENT_SIZE` (4 MiB, as containerd does). The limits are settings, but a
project's ``lkcloud.toml`` cannot raise them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lkcloud import settings
from lkcloud.errors import BuildError, ConfigError

DOCUMENT_SIZE = 4 << 20  # manifests, indexes and image configs
HEADER_SIZE = 1 << 20  # one PAX or GNU long-name header of a layer
_WHERE = "LKCLOUD_LIMITS_* or ~/.config/lkcloud/config.toml"

FILE_SIZE = settings.declare("limits.file-size", "1G", "largest file an image may hold (bytes, or 512M, 2G)",
                             not_from_project=f"raise it with {_WHERE}")
IMAGE_SIZE = settings.declare("limits.image-size", "4G", "most file data the layers of one image may hold",
                              not_from_project=f"raise it with {_WHERE}")
IMAGE_ENTRIES = settings.declare("limits.image-entries", 500_000, "most entries the layers of one image may hold",
                                 not_from_project=f"raise it with {_WHERE}")

_SIZE = re.compile(r"(\d+)\s*([KMGT]?)i?B?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str, what: str) -> int:
    """``1073741824``, ``512M``, ``2GiB`` -> bytes; ConfigError naming ``what`` otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise ConfigError([f"{what}: cannot read {text!r} as a size"], hint="give bytes or a size such as 512M, 2G")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def human(size: int) -> str:
    """``1073741824`` -> ``1 GiB``; exact powers print without decimals."""
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


class LimitError(BuildError):
    """An image is larger than a limit allows."""


@dataclass(frozen=True)
class Limits:
    file_size: int = 1 << 30
    image_size: int = 4 << 30
    image_entries: int = 500_000

    @classmethod
    def from_settings(cls, resolved: settings.Settings | None = None) -> Limits:
        resolved = resolved or settings.Settings()
        entries = resolved.get(IMAGE_ENTRIES)
        assert isinstance(entries, int)
        return cls(file_size=parse_size(str(resolved.get(FILE_SIZE)), FILE_SIZE.env),
                   image_size=parse_size(str(resolved.get(IMAGE_SIZE)), IMAGE_SIZE.env),
                   image_entries=entries)


class Budget:
    """What one image has used of its limits, as its layers are read."""

    def __init__(self, limits: Limits, source: str) -> None:
        self.limits = limits
        self.source = source
        self.bytes = 0
        self.entries = 0

    def member(self, name: str, size: int) -> None:
        """Account for one tar member of ``size`` bytes; LimitError past a limit."""
        limits = self.limits
        self.entries += 1
        if self.entries > limits.image_entries:
            raise LimitError(f"{self.source}: its layers hold more than {limits.image_entries} entries",
                             hint=f"if the image is trusted, raise {IMAGE_ENTRIES.env}")
        if size > limits.file_size:
            raise LimitError(f"{self.source}: {name!r} is {human(size)}, over the {human(limits.file_size)} "
                             "limit for one file", hint=f"if the image is trusted, raise {FILE_SIZE.env}")
        self.bytes += size
        if self.bytes > limits.image_size:
            raise LimitError(f"{self.source}: its layers hold more than {human(limits.image_size)} of file data",
                             hint=f"if the image is trusted, raise {IMAGE_SIZE.env}")
