"""``lkcloud push|run|fleet VERB|images VERB azure``: parse flags, call the provider, render.

This module imports no Azure SDK: the SDK is imported when a command builds the provider.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lkcloud.cli.common import DATA, DATA_FILE, fleet_text, run_text
from lkcloud.cli.context import emit, reporter
from lkcloud.cli.groups import Groups
from lkcloud.errors import ProviderUnavailableError, UsageError
from lkcloud.metadata import read_user_data
from lkcloud.providers import FleetSpec, ImageRecord, RunRequest

if TYPE_CHECKING:
    from lkcloud_azure.provider import AzureProvider


class Generation(StrEnum):
    V1 = "V1"
    V2 = "V2"


SUBSCRIPTION = typer.Option(None, "--subscription", help="subscription id (default: AZURE_SUBSCRIPTION_ID)")
GROUP = typer.Option(None, "--resource-group", "-g", help="resource group (default: azure.resource-group)")
LOCATION = typer.Option(None, "--location", "-l", help="region (default: azure.location)")
VM_SIZE = typer.Option(None, "--vm-size", help="VM size (default: azure.vm-size)")
SSH_KEY = typer.Option(None, "--ssh-key", help="OpenSSH public key file for the admin user")


def provider(push: Any = None, ssh_key: Path | None = None, public_ip: bool = True,
             **flags: str | None) -> AzureProvider:
    """The Azure provider for these flags (imports the SDK now, with an install hint if missing)."""
    try:
        from lkcloud_azure.clients import Flags
        from lkcloud_azure.provider import AzureProvider, RunOptions
    except ImportError as exc:
        raise ProviderUnavailableError(f"provider 'azure' is not available: {exc}",
                                       hint="pip install 'lkcloud[azure]'") from exc
    key = None
    if ssh_key is not None:
        try:
            key = ssh_key.read_text().strip()
        except OSError as exc:
            raise UsageError(f"{ssh_key}: cannot read the SSH key: {exc.strerror}") from exc
    return AzureProvider.from_flags(Flags(**flags), push_options=push, run_options=RunOptions(key, public_ip))


def push(
    *,
    source: Path = typer.Argument(..., help="LinuxKit YAML (built first) or a fixed VHD"),
    subscription: str | None = SUBSCRIPTION,
    resource_group: str | None = GROUP,
    location: str | None = LOCATION,
    storage_account: str | None = typer.Option(None, "--storage-account", help="storage account for the VHD"),
    container: str | None = typer.Option(None, "--container", help="blob container (default: lkcloud)"),
    name: str | None = typer.Option(None, "--name", help="image name (default: from the file name)"),
    generation: Generation | None = typer.Option(None, "--hyper-v-generation", help="V1 (BIOS) or V2 (UEFI)"),
    gallery: str | None = typer.Option(None, "--gallery", help="Compute Gallery to publish a version to"),
    definition: str | None = typer.Option(None, "--image-definition", help="gallery image definition"),
    version: str | None = typer.Option(None, "--version", help="gallery image version MAJOR.MINOR.PATCH"),
    replicate_to: list[str] = typer.Option([], "--replicate-to", help="extra region for the version (repeatable)"),
    tag: list[str] = typer.Option([], "--tag", help="tag K=V (repeatable)"),
) -> None:
    """Upload a fixed VHD as a page blob and make a managed image (and a gallery version) of it."""
    from lkcloud.artifact import from_file
    from lkcloud_azure.push import PushOptions, artifact_for

    options = PushOptions(name=name, generation=generation.value if generation else None, gallery=gallery,
                          definition=definition, version=version, replicate_to=tuple(replicate_to), tags=tuple(tag))
    azure = provider(options, subscription=subscription, resource_group=resource_group, location=location,
                     storage_account=storage_account, container=container, gallery=gallery)
    result = azure.push(from_file(artifact_for(source, Path(".lkcloud") / "build", reporter())), reporter())
    emit(result, f"{result.name}: {result.image_id}" + (" (already there)" if result.reused else ""))




def run(
    *,
    image: str | None = typer.Argument(None, help="image NAME, GALLERY/DEFINITION(/VERSION) or id (default: last push)",
                                       show_default=False),
    subscription: str | None = SUBSCRIPTION,
    resource_group: str | None = GROUP,
    location: str | None = LOCATION,
    size: str | None = typer.Option(None, "--size", help="VM size (default: azure.vm-size)"),
    name: str | None = typer.Option(None, "--name", help="VM name (default: the image's)"),
    count: int = typer.Option(1, "--count", min=1, help="how many VMs"),
    data: str | None = DATA,
    data_file: Path | None = DATA_FILE,
    console: bool = typer.Option(False, "--console", help="enable boot diagnostics and print the serial log"),
    ssh_key: Path | None = SSH_KEY,
    public_ip: bool = typer.Option(True, "--public-ip/--no-public-ip", help="give each VM a public IP"),
) -> None:
    """Run VMs of an image, with LinuxKit user data in userData (IMDS)."""
    user_data = read_user_data(data, data_file, "azure")
    azure = provider(ssh_key=ssh_key, public_ip=public_ip, subscription=subscription, resource_group=resource_group,
                     location=location, vm_size=size)
    request = RunRequest(image=image or "", name=name, count=count, user_data=user_data, instance_type=size,
                         console=console)
    result = azure.run(request, reporter())
    emit(result, lambda: run_text(result))




def fleet_create(
    *,
    name: str = typer.Argument(..., help="fleet (scale set) name"),
    image: str = typer.Option(..., "--image", help="image NAME, GALLERY/DEFINITION(/VERSION) or id"),
    size: int = typer.Option(1, "--size", min=0, help="number of instances"),
    data: str | None = DATA,
    data_file: Path | None = DATA_FILE,
    vm_size: str | None = VM_SIZE,
    ssh_key: Path | None = SSH_KEY,
    subscription: str | None = SUBSCRIPTION,
    resource_group: str | None = GROUP,
    location: str | None = LOCATION,
) -> None:
    """Create a VM scale set with rolling upgrades and the Application Health extension."""
    spec = FleetSpec(name=name, image=image, size=size, user_data=read_user_data(data, data_file, "azure"),
                     instance_type=vm_size)
    azure = provider(ssh_key=ssh_key, subscription=subscription, resource_group=resource_group, location=location)
    status = azure.fleet_create(spec, reporter())
    emit(status, lambda: fleet_text(status))


def fleet_status(name: str = typer.Argument(..., help="fleet name"), subscription: str | None = SUBSCRIPTION,
                 resource_group: str | None = GROUP) -> None:
    """Show a fleet's instances, their health and whether they run the latest model."""
    status = provider(subscription=subscription, resource_group=resource_group).fleet_status(name)
    emit(status, lambda: fleet_text(status))


def fleet_scale(name: str = typer.Argument(..., help="fleet name"),
                size: int = typer.Option(..., "--size", min=0, help="number of instances"),
                subscription: str | None = SUBSCRIPTION, resource_group: str | None = GROUP) -> None:
    """Set a fleet's capacity and wait for it."""
    status = provider(subscription=subscription, resource_group=resource_group).fleet_scale(name, size, reporter())
    emit(status, lambda: fleet_text(status))


def fleet_refresh(
    *,
    name: str = typer.Argument(..., help="fleet name"),
    image: str | None = typer.Option(None, "--image", help="new image (default: keep the current one)"),
    data: str | None = DATA,
    data_file: Path | None = DATA_FILE,
    max_batch: int = typer.Option(20, "--max-batch", help="percent of instances upgraded per batch"),
    max_unhealthy: int = typer.Option(20, "--max-unhealthy", help="percent unhealthy before the upgrade stops"),
    pause: int = typer.Option(0, "--pause", min=0, help="seconds between batches"),
    subscription: str | None = SUBSCRIPTION,
    resource_group: str | None = GROUP,
) -> None:
    """Roll a fleet onto a new image and/or user data, following the rolling upgrade to its end."""
    from lkcloud_azure.fleet import Rolling

    rolling = Rolling(max_batch=max_batch, max_unhealthy=max_unhealthy, max_unhealthy_upgraded=max_unhealthy,
                      pause_seconds=pause)
    azure = provider(subscription=subscription, resource_group=resource_group)
    result = azure.fleet_refresh(name, image or "", read_user_data(data, data_file, "azure"), reporter=reporter(),
                                 rolling=rolling)
    emit(result, f"{name}: {result.old_image} -> {result.new_image}: {result.message}")
    if not result.succeeded:
        raise typer.Exit(1)


def fleet_delete(name: str = typer.Argument(..., help="fleet name"), subscription: str | None = SUBSCRIPTION,
                 resource_group: str | None = GROUP) -> None:
    """Delete a fleet's scale set and its instances."""
    provider(subscription=subscription, resource_group=resource_group).fleet_delete(name, reporter())
    emit({"deleted": name}, f"deleted fleet {name}")


def _images_text(records: list[ImageRecord]) -> str:
    return "\n".join(f"{r.name}\t{r.details.get('kind')}\t{r.created or '-'}"
                     f"\t{r.details.get('action') or ('in use' if r.in_use else '')}" for r in records)


def images_list(subscription: str | None = SUBSCRIPTION, resource_group: str | None = GROUP) -> None:
    """List the images and gallery versions lkcloud made, newest first."""
    records = provider(subscription=subscription, resource_group=resource_group).images_list()
    emit(records, lambda: _images_text(records))


def images_prune(keep: int = typer.Option(3, "--keep", min=0, help="newest to keep"),
                 dry_run: bool = typer.Option(False, "--dry-run", help="only show what would go"),
                 subscription: str | None = SUBSCRIPTION, resource_group: str | None = GROUP) -> None:
    """Delete all but the newest images and gallery versions, and their blobs (never one in use)."""
    azure = provider(subscription=subscription, resource_group=resource_group)
    records = azure.images_prune(keep, reporter(), dry_run)
    emit(records, lambda: _images_text(records))


def register(groups: Groups) -> None:
    """Add the ``azure`` subcommand to every provider group."""
    groups.push.command("azure")(push)
    groups.run.command("azure")(run)
    verbs: dict[str, Callable[..., None]] = {
        "create": fleet_create, "status": fleet_status, "scale": fleet_scale, "refresh": fleet_refresh,
        "delete": fleet_delete,
    }
    for verb, handler in verbs.items():
        groups.fleet_verbs[verb].command("azure")(handler)
    groups.image_verbs["list"].command("azure")(images_list)
    groups.image_verbs["prune"].command("azure")(images_prune)
