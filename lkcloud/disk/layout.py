"""Where the parts of a disk go, so that a new release moves as few blocks as it can.

EBS snapshots are made of 512 KiB blocks (EBS direct APIs write whole blocks; Azure page blobs
take writes up to 4 MiB, a multiple of it), so every large part (kernel, UKI sections, initrd
and each initrd segment) starts on a :data:`BLOCK` boundary of the disk. A part that changes
then rewrites its own blocks only, as long as what comes before it keeps its place: large files
get room in :data:`GROWTH` steps and the boot partition's size moves in :data:`PARTITION_STEP`
steps, so a small growth does not shift what follows. What changes most often is put last.
"""

from __future__ import annotations

from lkcloud.disk.ids import MIB, align_up

BLOCK = 512 * 1024
GROWTH = 4 * MIB
PARTITION_STEP = 64 * MIB


def room(size: int, step: int = GROWTH) -> int:
    """The bytes a part of ``size`` bytes takes before the next part: its size rounded up to ``step``."""
    return align_up(max(size, 1), step)


def partition_size(needed: int, available: int) -> int:
    """The boot partition's size: ``needed`` rounded up to :data:`PARTITION_STEP`, or all that
    is ``available`` (whole MiB) when the rounding does not fit but ``needed`` does."""
    stepped = align_up(needed, PARTITION_STEP)
    if stepped <= available or needed > available:
        return stepped
    return available // MIB * MIB
