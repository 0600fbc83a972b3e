"""``lkcloud push|run|fleet VERB|images VERB gcp``: parse flags, call the provider, render.

This module imports no Google SDK: it is imported when the provider is built.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lkcloud.cli.common import DATA, DATA_FILE, fleet_text, run_text
from lkcloud.cli.context import emit, reporter
from lkcloud.cli.groups import Groups
from lkcloud.errors import ProviderUnavailableError
from lkcloud.metadata import read_user_data
from lkcloud.providers import BootMode, FleetSpec, ImageRecord, RunRequest

if TYPE_CHECKING:
    from lkcloud_gcp.provider import GcpProvider
    from lkcloud_gcp.push import PushOptions


class Boot(StrEnum):
    UEFI = "uefi"
    BIOS = "bios"
    BOTH = "both"


BOOT_MODES = {Boot.UEFI: BootMode.UEFI, Boot.BIOS: BootMode.BIOS, Boot.BOTH: BootMode.HYBRID}

PROJECT = typer.Option(None, "--project", help="GCP project (default: CLOUDSDK_CORE_PROJECT, gcp.project, ADC)")
ZONE = typer.Option(None, "--zone", help="zone (default: gcp.zone)")
REGION = typer.Option(None, "--region", help="region for the fleet (default: gcp.region, else the zone's)")
MACHINE_TYPE = typer.Option(None, "--machine-type", help="machine type (default: gcp.machine-type)")
FAMILY = typer.Option(None, "--family", help="image family")


def provider(push: PushOptions | None = None, shielded: bool = False, family_filter: str | None = None,
             **flags: str | None) -> GcpProvider:
    """The GCP provider for these flags (imports the Google SDK now, with a hint if missing)."""
    try:
        from lkcloud_gcp.clients import Flags
        from lkcloud_gcp.provider import GcpProvider
    except ImportError as exc:
        raise ProviderUnavailableError(f"provider 'gcp' is not available: {exc}",
                                       hint="pip install 'lkcloud[gcp]'") from exc
    return GcpProvider.from_flags(Flags(**flags), push_options=push, shielded=shielded, family_filter=family_filter)


def push(
    *,
    source: Path = typer.Argument(..., help="LinuxKit YAML (built first), NAME.img.tar.gz, or a raw disk"),
    project: str | None = PROJECT,
    bucket: str | None = typer.Option(None, "--bucket", help="GCS bucket for the upload (default: gcp.bucket)"),
    name: str | None = typer.Option(None, "--name", help="image name (default: from the file name)"),
    family: str | None = FAMILY,
    boot_mode: Boot | None = typer.Option(None, "--boot-mode", help="how the disk boots (default: both)"),
    feature: list[str] = typer.Option([], "--guest-os-feature", help="extra guest OS feature (repeatable)"),
    label: list[str] = typer.Option([], "--label", help="image label K=V (repeatable)"),
    storage_location: str | None = typer.Option(None, "--storage-location", help="where image data is stored"),
    replace: bool = typer.Option(False, "--replace", help="delete an existing image of that name first"),
    keep_upload: bool = typer.Option(False, "--keep-upload", help="keep the uploaded archive in the bucket"),
) -> None:
    """Upload an image to Cloud Storage and create a Compute Engine image from it."""
    from lkcloud.artifact import from_file
    from lkcloud_gcp.push import PushOptions, artifact_for

    options = PushOptions(name=name, family=family, boot_mode=BOOT_MODES[boot_mode] if boot_mode else None,
                          features=tuple(feature), labels=tuple(label), replace=replace, keep_upload=keep_upload)
    gcp = provider(options, project=project, bucket=bucket, family=family, storage_location=storage_location)
    result = gcp.push(from_file(artifact_for(source, Path(".lkcloud") / "build", reporter())), reporter())
    emit(result, f"{result.name}: {result.image_id}" + (" (already there)" if result.reused else ""))




def run(
    *,
    image: str | None = typer.Argument(None, help="image name, family/F or URL (default: the last push from here)"),
    project: str | None = PROJECT,
    zone: str | None = ZONE,
    machine_type: str | None = MACHINE_TYPE,
    name: str | None = typer.Option(None, "--name", help="instance name (default: the image's)"),
    count: int = typer.Option(1, "--count", min=1, help="how many instances"),
    data: str | None = DATA,
    data_file: Path | None = DATA_FILE,
    console: bool = typer.Option(False, "--console", help="print the serial console output"),
    shielded: bool = typer.Option(False, "--shielded", help="shielded VM: vTPM, and secure boot where possible"),
) -> None:
    """Run instances of an image on Compute Engine."""
    user_data = read_user_data(data, data_file, "gcp")
    gcp = provider(shielded=shielded, project=project, zone=zone, machine_type=machine_type)
    request = RunRequest(image=image or "", name=name, count=count, user_data=user_data,
                         instance_type=machine_type, console=console)
    result = gcp.run(request, reporter())
    emit(result, lambda: run_text(result))




def fleet_create(
    *,
    name: str = typer.Argument(..., help="fleet name"),
    image: str = typer.Option(..., "--image", help="image name, family/F or URL"),
    size: int = typer.Option(1, "--size", min=0, help="number of instances"),
    data: str | None = DATA,
    data_file: Path | None = DATA_FILE,
    machine_type: str | None = MACHINE_TYPE,
    project: str | None = PROJECT,
    region: str | None = REGION,
) -> None:
    """Create an instance template and a regional managed instance group."""
    spec = FleetSpec(name=name, image=image, size=size, user_data=read_user_data(data, data_file, "gcp"),
                     instance_type=machine_type)
    status = provider(project=project, region=region).fleet_create(spec, reporter())
    emit(status, lambda: fleet_text(status))


def fleet_status(name: str = typer.Argument(..., help="fleet name"), project: str | None = PROJECT,
                 region: str | None = REGION) -> None:
    """Show a fleet's instances and the template each runs."""
    status = provider(project=project, region=region).fleet_status(name)
    emit(status, lambda: fleet_text(status))


def fleet_scale(name: str = typer.Argument(..., help="fleet name"),
                size: int = typer.Option(..., "--size", min=0, help="number of instances"),
                project: str | None = PROJECT, region: str | None = REGION) -> None:
    """Resize a fleet and wait until it is stable."""
    status = provider(project=project, region=region).fleet_scale(name, size, reporter())
    emit(status, lambda: fleet_text(status))


def fleet_refresh(
    *,
    name: str = typer.Argument(..., help="fleet name"),
    image: str | None = typer.Option(None, "--image", help="new image (default: keep the current one)"),
    data: str | None = DATA,
    data_file: Path | None = DATA_FILE,
    machine_type: str | None = MACHINE_TYPE,
    canary: int | None = typer.Option(None, "--canary", min=1, help="move only N instances to the new template"),
    max_surge: int = typer.Option(3, "--max-surge", min=0, help="extra instances during the update (0 or >= zones)"),
    max_unavailable: int = typer.Option(0, "--max-unavailable", min=0, help="instances down at once (0 or >= zones)"),
    min_ready: int = typer.Option(0, "--min-ready", min=0, help="seconds the group must stay stable"),
    project: str | None = PROJECT,
    region: str | None = REGION,
) -> None:
    """Roll a fleet onto a new template (image and/or user data) and wait until it is stable."""
    from lkcloud_gcp.fleet import Rollout

    rollout = Rollout(max_surge=max_surge, max_unavailable=max_unavailable, canary=canary, min_ready=min_ready)
    gcp = provider(project=project, region=region)
    result = gcp.fleet_refresh(name, image or "", read_user_data(data, data_file, "gcp"), reporter=reporter(),
                               rollout=rollout, machine_type=machine_type)
    emit(result, f"{name}: {result.old_image} -> {result.new_image}")


def fleet_delete(name: str = typer.Argument(..., help="fleet name"), project: str | None = PROJECT,
                 region: str | None = REGION) -> None:
    """Delete a fleet's group, its instances and its templates."""
    provider(project=project, region=region).fleet_delete(name, reporter())
    emit({"deleted": name}, f"deleted fleet {name}")


def _images_text(records: list[ImageRecord]) -> str:
    return "\n".join(f"{r.name}\t{r.created}\t{r.details.get('family') or '-'}"
                     f"\t{r.details.get('action') or ('in use' if r.in_use else '')}" for r in records)


def images_list(family: str | None = FAMILY, project: str | None = PROJECT) -> None:
    """List the images lkcloud pushed, newest first."""
    records = provider(family_filter=family, project=project).images_list()
    emit(records, lambda: _images_text(records))


def images_prune(family: str | None = FAMILY, keep: int = typer.Option(3, "--keep", min=0, help="newest to keep"),
                 dry_run: bool = typer.Option(False, "--dry-run", help="only show what would go"),
                 project: str | None = PROJECT) -> None:
    """Deprecate, then delete, all but the newest images of each family (never one in use)."""
    records = provider(family_filter=family, project=project).images_prune(keep, reporter(), dry_run)
    emit(records, lambda: _images_text(records))


def register(groups: Groups) -> None:
    """Add the ``gcp`` subcommand to every provider group."""
    groups.push.command("gcp")(push)
    groups.run.command("gcp")(run)
    verbs: dict[str, Callable[..., None]] = {
        "create": fleet_create, "status": fleet_status, "scale": fleet_scale, "refresh": fleet_refresh,
        "delete": fleet_delete,
    }
    for verb, handler in verbs.items():
        groups.fleet_verbs[verb].command("gcp")(handler)
    groups.image_verbs["list"].command("gcp")(images_list)
    groups.image_verbs["prune"].command("gcp")(images_prune)
