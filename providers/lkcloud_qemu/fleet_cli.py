"""``lkcloud fleet create|status|scale|refresh|delete qemu NAME``: local fleets of detached VMs."""

from __future__ import annotations

from pathlib import Path

import typer

from lkcloud.cli.context import emit, reporter
from lkcloud.cli.fleetfile import refresh_text, status_text
from lkcloud.cli.groups import Groups
from lkcloud.fleetfile import defaults
from lkcloud.metadata import read_user_data
from lkcloud.providers import FleetSpec
from lkcloud_qemu.provider import QemuProvider

NAME = typer.Argument(..., help="The fleet's name.")
IMAGE = typer.Option(..., "--image", help="An image file, a build's NAME prefix, or LinuxKit YAML to build.")
DATA = typer.Option(None, "--data", help="User data (LinuxKit JSON) on every VM's cidata CD.")
DATA_FILE = typer.Option(None, "--data-file", help="User data from a file.")


def fleet_create(name: str = NAME, image: str = IMAGE, size: int = typer.Option(2, "--size", min=0),
                 data: str | None = DATA, data_file: Path | None = DATA_FILE) -> None:
    """Start SIZE detached VMs of IMAGE, each forwarding its own port to the worker's HTTP port."""
    spec = FleetSpec(name=name, image=image, size=size, user_data=read_user_data(data, data_file, "qemu"),
                     policy=defaults("qemu").update)
    status = QemuProvider().fleet_create(spec, reporter())
    emit(status, lambda: status_text(status))


def fleet_status(name: str = NAME) -> None:
    """Each VM's image, forwarded port, health and version (from /healthz); --json: the VMs."""
    status = QemuProvider().fleet_status(name)
    emit(list(status.instances), lambda: status_text(status))


def fleet_scale(name: str = NAME, size: int = typer.Argument(..., min=0)) -> None:
    """Start or stop VMs until the fleet has SIZE."""
    status = QemuProvider().fleet_scale(name, size, reporter())
    emit(status, lambda: status_text(status))


def fleet_refresh(name: str = NAME, image: str = IMAGE, data: str | None = DATA,
                  data_file: Path | None = DATA_FILE) -> None:
    """Replace the VMs one at a time with IMAGE; stops at the first VM that fails its health check."""
    result = QemuProvider().fleet_refresh(name, image, read_user_data(data, data_file, "qemu"), None, reporter())
    emit(result, lambda: refresh_text(result))
    if not result.succeeded:
        raise typer.Exit(1)


def fleet_delete(name: str = NAME) -> None:
    """Stop every VM of the fleet and forget it."""
    QemuProvider().fleet_delete(name, reporter())
    emit({"deleted": name}, f"deleted fleet {name}")


def register_fleet(groups: Groups) -> None:
    for verb, handler in (("create", fleet_create), ("status", fleet_status), ("scale", fleet_scale),
                          ("refresh", fleet_refresh), ("delete", fleet_delete)):
        groups.fleet_verbs[verb].command("qemu")(handler)
