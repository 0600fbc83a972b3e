"""Fixed VHDs as Azure takes them: a whole number of MiB of disk, then a 512-byte footer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lkcloud.disk import vhd as vhd_format
from lkcloud.errors import BuildError, UsageError

MIB = 1 << 20
FOOTER = vhd_format.FOOTER_SIZE
HINT = "build it with `lkcloud build -f vhd`, or convert with `qemu-img convert -O vpc -o subformat=fixed," \
       "force_size` after rounding the disk up to a whole MiB"


@dataclass(frozen=True)
class FixedVhd:
    path: Path
    size: int  # the file's length: disk + footer (the page blob's length)

    @property
    def disk_size(self) -> int:
        return self.size - FOOTER


def check(path: Path) -> FixedVhd:
    """``path`` as a fixed VHD Azure accepts, or a UsageError saying what is wrong with it."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            fh.seek(max(size - FOOTER, 0))
            tail = fh.read(FOOTER)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    disk = size - FOOTER
    if disk <= 0 or disk % MIB:
        raise UsageError(f"{path}: {size} bytes is not a whole number of MiB plus a 512-byte VHD footer", hint=HINT)
    try:
        footer = vhd_format.parse(tail)
    except (BuildError, ValueError) as exc:
        raise UsageError(f"{path}: no valid fixed VHD footer (conectix) at the end: {exc}", hint=HINT) from exc
    if footer.disk_type != vhd_format.DiskType.FIXED:
        raise UsageError(f"{path}: a {footer.disk_type.name.lower()} VHD; Azure takes fixed VHDs only", hint=HINT)
    if footer.size != disk:
        raise UsageError(f"{path}: the VHD footer says {footer.size} bytes but the disk holds {disk}", hint=HINT)
    return FixedVhd(path, size)
