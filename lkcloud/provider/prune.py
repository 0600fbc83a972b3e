"""One prune policy for every provider: per family, keep the newest N and every image in use."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lkcloud.errors import UsageError
from lkcloud.provider.types import ImageRecord


@dataclass(frozen=True)
class PrunePlan:
    keep: tuple[ImageRecord, ...]
    remove: tuple[ImageRecord, ...]
    in_use: tuple[ImageRecord, ...]  # older than the newest N, kept because something uses them


def plan_prune(records: Sequence[ImageRecord], keep: int, in_use: Collection[str] = ()) -> PrunePlan:
    """Which images to remove: all but the newest ``keep`` of each family and architecture (by
    ``created``), never one marked in use or whose id is in ``in_use``."""
    if keep < 1:
        raise UsageError(f"--keep {keep}: keep at least 1 image per family")
    families: dict[tuple[str, str], list[ImageRecord]] = defaultdict(list)
    for record in records:
        families[record.family, record.arch].append(record)
    kept: list[ImageRecord] = []
    removed: list[ImageRecord] = []
    used: list[ImageRecord] = []
    for family in sorted(families):
        newest_first = sorted(families[family], key=lambda r: (r.created, r.id), reverse=True)
        kept += newest_first[:keep]
        for record in newest_first[keep:]:
            (used if record.in_use or record.id in in_use else removed).append(record)
    return PrunePlan(tuple(kept), tuple(removed), tuple(used))
