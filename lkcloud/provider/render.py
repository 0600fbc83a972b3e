"""One rendering of each provider result as text (``--json`` prints the dataclasses themselves,
so the keys are the same on every provider), and the ids ``--quiet`` prints."""

from __future__ import annotations

from collections.abc import Sequence

from lkcloud.provider.prune import PrunePlan
from lkcloud.provider.types import FleetStatus, ImageRecord, PushResult, RefreshResult, RunResult


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def push_text(result: PushResult) -> str:
    """``aws: ami-0123 (hello-1a2b) sent 12.0 MiB, skipped 1.0 GiB``, then every copy."""
    if result.reused:
        what = "already there"
    else:
        what = f"sent {_size(result.bytes_sent)}, skipped {_size(result.bytes_skipped)}"
        if result.parent:
            what += f" (on top of {result.parent})"
    lines = [f"{result.provider}: {result.id} ({result.name}) {what}"]
    lines += [f"  {region}\t{image}" for region, image in result.locations if image != result.id]
    return "\n".join(lines)


def run_text(result: RunResult) -> str:
    """One line per instance (id, state, address), then the console when asked for."""
    lines = []
    for i in result.instances:
        where = f"127.0.0.1:{i.port}" if i.port else (i.address or "-")
        lines.append(f"{i.id}\t{i.state}\t{where}")
    return "\n".join(lines + ([result.console] if result.console else []))


def fleet_text(status: FleetStatus) -> str:
    """The fleet's headline, then one line per instance: id, state, health, version, address, image."""
    healthy = sum(i.health.value == "healthy" for i in status.instances)
    lines = [f"fleet {status.name} ({status.provider}): {status.state}, {healthy}/{status.size} healthy,"
             f" image {status.image}"]
    for i in status.instances:
        where = f"127.0.0.1:{i.port}" if i.port else (i.address or "-")
        lines.append(f"  {i.id:<20} {i.state:<10} {i.health.value:<9} {i.version or '-':<12} {where:<21} {i.image}")
    return "\n".join(lines)


def refresh_text(result: RefreshResult) -> str:
    verdict = "refreshed" if result.succeeded else "refresh FAILED (the old instances keep serving)"
    text = f"fleet {result.name}: {verdict}: {result.message}\n  {result.old_image} -> {result.new_image}"
    return text + ("\n" + fleet_text(result.status) if result.status else "")


def images_text(records: Sequence[ImageRecord]) -> str:
    if not records:
        return "no images"
    rows = [("ID", "NAME", "FAMILY", "CREATED", "IN USE")]
    rows += [(r.id, r.name, r.family or "-", r.created, "yes" if r.in_use else "-") for r in records]
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    return "\n".join("  ".join([*(cell.ljust(widths[c]) for c, cell in enumerate(row[:4])), row[4]]).rstrip()
                     for row in rows)


def prune_text(plan: PrunePlan, dry_run: bool) -> str:
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb} {r.id} ({r.name})" for r in plan.remove]
    lines += [f"kept {r.id} ({r.name}): in use" for r in plan.in_use]
    return "\n".join(lines) or "nothing to remove"


def instance_ids(status: FleetStatus | RunResult) -> list[str]:
    return [i.id for i in status.instances]
