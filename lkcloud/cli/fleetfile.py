"""``lkcloud fleet VERB FLEET.yml``: the fleet verbs for a fleet defined in a file.

``refresh`` (and ``create``) is one scripted step: build the packages the file lists, build its
LinuxKit YAML into the provider's image format, push it, and roll the fleet. The verb groups
route an argument ending in ``.yml``/``.yaml`` here (see :mod:`lkcloud.cli.groups`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lkcloud.cli.context import emit, reporter
from lkcloud.cli.groups import FLEET_FILE_COMMAND
from lkcloud.fleetfile import FleetFile, load
from lkcloud.progress import Reporter
from lkcloud.providers import FleetSpec, FleetStatus, Provider, RefreshResult, entry, provider_class

if TYPE_CHECKING:
    from lkcloud.cli.groups import Groups

FILE = typer.Argument(..., help="A fleet file (fleet.yml).", exists=True, dir_okay=False)
BUILD_DIR = Path(".lkcloud") / "build"


def status_text(status: FleetStatus) -> str:
    healthy = sum(i.health.value == "healthy" for i in status.instances)
    lines = [f"fleet {status.name} ({status.provider}): {healthy}/{status.size} healthy, {status.state}",
             f"  image {Path(status.image).name}"]
    for i in status.instances:
        port = f"127.0.0.1:{i.port}" if i.port else (i.address or "-")
        lines.append(f"  {i.id:<20} {i.state:<8} {i.health.value:<9} version {i.version or '-':<10} {port:<16} "
                     f"{Path(i.image).name}")
    return "\n".join(lines)


def refresh_text(result: RefreshResult) -> str:
    verdict = "refreshed" if result.succeeded else "refresh FAILED"
    text = f"fleet {result.name}: {verdict}: {result.message}"
    return text + ("\n" + status_text(result.status) if result.status else "")


def provider_for(name: str) -> Provider:
    """The provider with its settings resolved, as its own CLI builds it (``cli.provider()``)."""
    module = importlib.import_module(entry(name).cli.partition(":")[0])
    factory = getattr(module, "provider", None)
    made: Provider = factory() if callable(factory) else provider_class(name)()
    return made


def build_packages(fleet: FleetFile, report: Reporter) -> None:
    if not fleet.packages:
        return
    from lkcloud.pkg.build import PackageOptions
    from lkcloud.pkg.build import build_packages as build_all
    from lkcloud.settings import cache_dir

    report.step(f"building packages: {', '.join(p.name for p in fleet.packages)}")
    build_all(list(fleet.packages), PackageOptions(cache=cache_dir()), report)


def image_for(fleet: FleetFile, provider: Provider, report: Reporter) -> str:
    """The image the fleet runs: built and pushed when the file names LinuxKit YAML."""
    if not fleet.builds:
        return fleet.image[0]
    files = [Path(f) for f in fleet.image]
    build_image = getattr(provider, "build_image", None)
    if callable(build_image):
        return str(build_image(files, report))
    from lkcloud.artifact import from_file
    from lkcloud.build import BuildOptions, build

    fmt = provider.image_format
    result = build(BuildOptions(files=tuple(files), formats=(fmt,), outdir=BUILD_DIR), report)
    artifact = from_file(result.outputs[fmt][0], name=result.name)
    return provider.push(artifact, report).image_id


def _prepared(file: Path, build: bool) -> tuple[FleetFile, Provider, Any]:
    fleet = load(file)
    provider = provider_for(fleet.provider)
    report = reporter()
    if build:
        build_packages(fleet, report)
    return fleet, provider, report


def file_create(file: Path = FILE) -> None:
    """Create the fleet a fleet file defines (building its image first)."""
    fleet, provider, report = _prepared(file, build=True)
    spec = FleetSpec(name=fleet.name, image=image_for(fleet, provider, report), size=fleet.size,
                     user_data=fleet.user_data, instance_type=fleet.instance_type, policy=fleet.update)
    status = provider.fleet_create(spec, report)
    emit(status, lambda: status_text(status))


def file_status(file: Path = FILE) -> None:
    """Show the fleet a fleet file defines; --json: its instances."""
    fleet, provider, _ = _prepared(file, build=False)
    status = provider.fleet_status(fleet.name)
    emit(list(status.instances), lambda: status_text(status))


SIZE = typer.Argument(None, min=0, help="The new size (default: the file's size).")


def file_scale(file: Path = FILE, size: int | None = SIZE) -> None:
    """Scale the fleet a fleet file defines (to SIZE, or to the file's size)."""
    fleet, provider, report = _prepared(file, build=False)
    status = provider.fleet_scale(fleet.name, fleet.size if size is None else size, report)
    emit(status, lambda: status_text(status))


def file_refresh(file: Path = FILE) -> None:
    """Build, push and roll: the fleet onto the image and user data its file defines now."""
    fleet, provider, report = _prepared(file, build=True)
    result = provider.fleet_refresh(fleet.name, image_for(fleet, provider, report), fleet.user_data, fleet.update,
                                    report)
    emit(result, lambda: refresh_text(result))
    if not result.succeeded:
        raise typer.Exit(1)


def file_delete(file: Path = FILE) -> None:
    """Delete the fleet a fleet file defines."""
    fleet, provider, report = _prepared(file, build=False)
    provider.fleet_delete(fleet.name, report)
    emit({"deleted": fleet.name}, f"deleted fleet {fleet.name}")


def register(groups: Groups) -> None:
    """Add ``FLEET.yml`` to each fleet verb (the groups route ``*.yml`` arguments to it)."""
    for verb, handler in (("create", file_create), ("status", file_status), ("scale", file_scale),
                          ("refresh", file_refresh), ("delete", file_delete)):
        groups.fleet_verbs[verb].command(FLEET_FILE_COMMAND)(handler)
