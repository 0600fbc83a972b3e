"""``lkcloud fleet VERB FLEET.yml``: the fleet verbs for a fleet defined in a file.

``create`` and ``refresh`` are one scripted step each: build the packages the file lists, build
its LinuxKit YAML into the provider's format, push it, and make or roll the fleet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from lkcloud.cli.context import emit, reporter
from lkcloud.cli.verbs import confirm
from lkcloud.fleet import deploy
from lkcloud.fleet.file import FleetFile, load
from lkcloud.provider import render
from lkcloud.provider.interface import Provider
from lkcloud.provider.registry import load as load_provider

FILE = typer.Argument(..., help="A fleet file (fleet.yml).", exists=True, dir_okay=False)


def _open(file: Path) -> tuple[FleetFile, Provider]:
    fleet = load(file)
    return fleet, load_provider(fleet.provider)


def file_create(file: Path = FILE) -> None:
    """Create the fleet a fleet file defines (building and pushing its image first)."""
    fleet, provider = _open(file)
    status = provider.fleet_create(deploy.spec(fleet, deploy.image_for(fleet, provider, reporter())), reporter())
    emit(status, lambda: render.fleet_text(status), ids=render.instance_ids(status))


def file_status(file: Path = FILE) -> None:
    """Show the fleet a fleet file defines."""
    fleet, provider = _open(file)
    status = provider.fleet_status(fleet.name)
    emit(status, lambda: render.fleet_text(status), ids=render.instance_ids(status))


def file_scale(file: Path = FILE, size: int | None = typer.Option(None, "--size", min=0,
                                                                   help="Number of instances (default: the file's).")
               ) -> None:
    """Scale the fleet a fleet file defines (to --size, or to the file's size)."""
    fleet, provider = _open(file)
    status = provider.fleet_scale(fleet.name, fleet.size if size is None else size, reporter())
    emit(status, lambda: render.fleet_text(status), ids=render.instance_ids(status))


def file_refresh(file: Path = FILE) -> None:
    """Build, push and roll: the fleet onto the image and user data its file defines now."""
    fleet, provider = _open(file)
    image = deploy.image_for(fleet, provider, reporter())
    result = provider.fleet_refresh(fleet.name, image, fleet.user_data, fleet.update, reporter())
    emit(result, lambda: render.refresh_text(result), ids=[result.new_image])
    if not result.succeeded:
        raise typer.Exit(1)


def file_delete(file: Path = FILE, yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")) -> None:
    """Delete the fleet a fleet file defines."""
    fleet, provider = _open(file)
    confirm(f"delete fleet {fleet.name} ({fleet.provider}) and all its instances?", yes)
    provider.fleet_delete(fleet.name, reporter())
    emit({"deleted": fleet.name, "provider": fleet.provider}, f"deleted fleet {fleet.name}", ids=[fleet.name])


HANDLERS: dict[str, Callable[..., None]] = {"create": file_create, "status": file_status, "scale": file_scale,
                                            "refresh": file_refresh, "delete": file_delete}
