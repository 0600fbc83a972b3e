"""Options and renderings every provider's commands share, declared once."""

from __future__ import annotations

import typer

from lkcloud.providers import FleetStatus, RunResult

DATA = typer.Option(None, "--data", help="user data (LinuxKit JSON) as a string")
DATA_FILE = typer.Option(None, "--data-file", help="user data (LinuxKit JSON) from a file")


def run_text(result: RunResult) -> str:
    """One line per instance (id, state, address), then the console when asked for."""
    lines = [f"{i.id}\t{i.state}\t{i.address or '-'}" for i in result.instances]
    return "\n".join(lines + ([result.console] if result.console else []))


def fleet_text(status: FleetStatus) -> str:
    """The fleet's headline, then one line per instance: id, state, health, version, image."""
    head = f"{status.name}: {status.state}, {len(status.instances)}/{status.size} instances, image {status.image}"
    rows = [f"  {i.id}\t{i.state}\t{i.health}\t{i.version or '-'}\t{i.image}" for i in status.instances]
    return "\n".join([head, *rows])
