"""``lkcloud push|run|fleet VERB|images VERB aws``: parse flags, call the provider, render.

This module imports no SDK: boto3 is imported when a command builds the provider.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lkcloud import state
from lkcloud.cli.common import DATA, DATA_FILE, fleet_text
from lkcloud.cli.context import emit, reporter
from lkcloud.cli.groups import Groups
from lkcloud.errors import BuildError, ProviderUnavailableError, UsageError
from lkcloud.metadata import read_user_data
from lkcloud.providers import Artifact, BootMode, FleetSpec, UpdatePolicy
from lkcloud_aws.choices import Arch, AwsBootMode, Method

if TYPE_CHECKING:
    from lkcloud_aws.provider import AwsProvider

SECTION = "push.aws"
_YAML = (".yml", ".yaml")
_LKCLOUD_BOOT = {AwsBootMode.LEGACY_BIOS: BootMode.BIOS, AwsBootMode.UEFI: BootMode.UEFI,
                 AwsBootMode.UEFI_PREFERRED: BootMode.HYBRID}

REGION = typer.Option(None, "--region", help="AWS region (default: aws.region, AWS_REGION)")
INSTANCE_TYPE = typer.Option(None, "--instance-type", help="instance type (default: aws.instance-type)")


def _many(values: list[str] | None) -> tuple[str, ...]:
    """Repeated and/or comma-separated flag values."""
    return tuple(part for value in values or () for part in value.split(",") if part)


def _tags(values: list[str] | None) -> dict[str, str]:
    pairs = {}
    for value in values or ():
        key, sep, tag = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag {value!r}: expected KEY=VALUE")
        pairs[key] = tag
    return pairs


def provider(push: Any = None, **flags: Any) -> AwsProvider:
    """The AWS provider for these flags (imports boto3 now, with an install hint if missing)."""
    try:
        from lkcloud_aws.options import AwsOptions
        from lkcloud_aws.provider import AwsProvider
    except ImportError as exc:
        raise ProviderUnavailableError(f"provider 'aws' is not available: {exc}",
                                       hint="pip install 'lkcloud[aws]'") from exc
    return AwsProvider(AwsOptions.resolve(push=push, **flags))


def artifact_for(source: Path, boot_mode: AwsBootMode | None, arch: Arch | None) -> Artifact:
    """The image to push: ``source`` itself, or the aws-format build of a LinuxKit YAML."""
    from lkcloud import artifact, build

    path = source
    if source.suffix in _YAML:
        try:
            path = build.build_one([source], "aws", Path(".lkcloud") / "build", reporter())
        except NotImplementedError as exc:
            raise BuildError(f"{source}: building images is not available in this lkcloud yet",
                             hint="build the aws format elsewhere and push the .raw file") from exc
    family = source.name.split(".")[0]
    mode = _LKCLOUD_BOOT[boot_mode] if boot_mode else BootMode.HYBRID
    return artifact.from_file(path, name=family, boot_mode=mode, arch="arm64" if arch is Arch.ARM64 else "amd64")


def push(
    *,
    source: Path = typer.Argument(..., help="LinuxKit YAML (built first) or a raw disk image"),
    name: str = typer.Option(None, "--name", help="AMI name (default: <file stem>-<digest[:12]>)"),
    method: Method = typer.Option(None, "--method", help="direct (EBS direct APIs) or import (S3 + ImportSnapshot)"),
    boot_mode: AwsBootMode = typer.Option(None, "--boot-mode", help="uefi, legacy-bios or uefi-preferred"),
    arch: Arch = typer.Option(None, "--arch", help="x86_64 or arm64"),
    region: str = REGION,
    bucket: str = typer.Option(None, "--bucket", help="S3 bucket for --method import"),
    copy_to: list[str] = typer.Option(None, "--copy-to", help="copy the AMI to these regions (repeat or comma-list)"),
    public: bool = typer.Option(False, "--public", help="make the AMI public"),
    share: list[str] = typer.Option(None, "--share", help="share with these account ids (repeat or comma-list)"),
    tag: list[str] = typer.Option(None, "--tag", help="extra tag KEY=VALUE (repeatable)"),
    ssm_parameter: str = typer.Option(None, "--ssm-parameter", help="SSM parameter to point at the AMI"),
    create_role: bool = typer.Option(False, "--create-role", help="create the vmimport role if missing"),
    tpm: bool = typer.Option(False, "--tpm", help="NitroTPM support (needs --boot-mode uefi)"),
) -> None:
    """Upload an image and register it as an AMI."""
    from lkcloud_aws.options import PushOptions

    options = PushOptions(name=name, method=method, boot_mode=boot_mode, arch=arch, bucket=bucket,
                          copy_to=_many(copy_to), public=public, share=_many(share), tags=_tags(tag),
                          ssm_parameter=ssm_parameter, create_role=create_role, tpm=tpm)
    aws = provider(push=options, region=region)
    result = aws.push(artifact_for(source, boot_mode, arch), reporter())
    state.record(SECTION, {"image_id": result.image_id, "name": result.name, "region": aws.aws.region,
                           "locations": dict(result.locations), "digest": result.details.get("digest")})
    emit(result, lambda: "\n".join(f"{region}\t{image_id}" for region, image_id in result.locations))


def _last_image() -> tuple[str, str | None]:
    last = state.last(SECTION)
    if not last:
        raise UsageError("no image given and none pushed from this directory", hint="lkcloud push aws FILE first")
    return str(last["image_id"]), last.get("region")


def run(
    *,
    name: str = typer.Argument(None, help="AMI id or name (default: the last push from this directory)"),
    instance_type: str = INSTANCE_TYPE,
    subnet: str = typer.Option(None, "--subnet"),
    security_group: str = typer.Option(None, "--security-group"),
    key_name: str = typer.Option(None, "--key-name"),
    data: str = DATA,
    data_file: Path = DATA_FILE,
    count: int = typer.Option(1, "--count", min=1),
    console: bool = typer.Option(False, "--console", help="print the first instance's console output"),
    region: str = REGION,
) -> None:
    """Run instances of an AMI (IMDSv2 required)."""
    from lkcloud.providers import RunRequest

    image, pushed_region = (name, None) if name else _last_image()
    aws = provider(region=region or pushed_region, instance_type=instance_type, subnet=subnet,
                   security_group=security_group, key_name=key_name)
    request = RunRequest(image=image, count=count, user_data=read_user_data(data, data_file, "aws"), console=console)
    result = aws.run(request, reporter())
    emit(result, lambda: "\n".join([i.id for i in result.instances] + ([result.console] if result.console else [])))




def fleet_create(
    *,
    name: str = typer.Argument(...),
    image: str = typer.Option(None, "--image", help="AMI id or name (default: the last push)"),
    size: int = typer.Option(1, "--size", min=0),
    data: str = DATA,
    data_file: Path = DATA_FILE,
    instance_type: str = INSTANCE_TYPE,
    region: str = REGION,
) -> None:
    """Create a fleet: a launch template and an Auto Scaling group."""
    chosen = image or _last_image()[0]
    spec = FleetSpec(name=name, image=chosen, size=size, user_data=read_user_data(data, data_file, "aws"),
                     instance_type=instance_type)
    status = provider(region=region).fleet_create(spec, reporter())
    emit(status, lambda: fleet_text(status))


def fleet_status(name: str = typer.Argument(...), region: str = REGION) -> None:
    """Show a fleet's instances and the launch-template version each runs."""
    status = provider(region=region).fleet_status(name)
    emit(status, lambda: fleet_text(status))


def fleet_scale(name: str = typer.Argument(...), size: int = typer.Option(..., "--size", min=0, help="instances"),
                region: str = REGION) -> None:
    """Set a fleet's size."""
    status = provider(region=region).fleet_scale(name, size, reporter())
    emit(status, lambda: fleet_text(status))


def _refresh_image(aws: AwsProvider, image: str | None) -> str:
    if image is None:
        return _last_image()[0]
    path = Path(image)
    if path.is_file():
        return aws.push(artifact_for(path, None, None), reporter()).image_id
    return image


def fleet_refresh(
    *,
    name: str = typer.Argument(...),
    image: str = typer.Option(None, "--image", help="AMI id or name, or FILE.yml / an image file to push first"),
    data: str = DATA,
    data_file: Path = DATA_FILE,
    canary: int = typer.Option(None, "--canary", min=1, max=99, help="pause at this percent (checkpoint)"),
    min_healthy: int = typer.Option(90, "--min-healthy", min=0, max=100),
    warmup: int = typer.Option(60, "--warmup", min=0, help="seconds before a new instance counts as healthy"),
    region: str = REGION,
) -> None:
    """Roll a fleet onto a new image and/or user data (instance refresh with auto-rollback)."""
    aws = provider(region=region)
    policy = UpdatePolicy(min_healthy_percent=min_healthy, warmup_seconds=warmup, canary_percent=canary)
    result = aws.fleet_refresh(name, _refresh_image(aws, image), read_user_data(data, data_file, "aws"), policy,
                               reporter())
    emit(result, f"{result.name}: {result.message} ({result.old_image} -> {result.new_image})")
    if not result.succeeded:
        raise typer.Exit(1)


def fleet_delete(name: str = typer.Argument(...), region: str = REGION) -> None:
    """Delete a fleet (its instances and launch template)."""
    provider(region=region).fleet_delete(name, reporter())
    emit({"deleted": name}, f"deleted {name}")


def images_list(region: str = REGION) -> None:
    """List the AMIs lkcloud made (in use = a launch template or instance uses it)."""
    records = provider(region=region).images_list()
    emit(records, lambda: "\n".join(f"{r.id}\t{r.created}\t{'in use' if r.in_use else '-'}\t{r.name}" for r in records))


def images_prune(keep: int = typer.Option(3, "--keep", min=0, help="newest AMIs to keep per family"),
                 dry_run: bool = typer.Option(False, "--dry-run"), region: str = REGION) -> None:
    """Deregister old lkcloud AMIs and delete their snapshots (never ones in use)."""
    removed = provider(region=region).images_prune(keep, reporter(), dry_run)
    emit(removed, lambda: "\n".join(f"{'would remove' if dry_run else 'removed'} {r.id} {r.name}" for r in removed))


def register(groups: Groups) -> None:
    """Add the ``aws`` subcommands to the provider groups."""
    groups.push.command("aws")(push)
    groups.run.command("aws")(run)
    verbs: dict[str, Callable[..., None]] = {"create": fleet_create, "status": fleet_status, "scale": fleet_scale,
                                             "refresh": fleet_refresh, "delete": fleet_delete}
    for verb, handler in verbs.items():
        groups.fleet_verbs[verb].command("aws")(handler)
    groups.image_verbs["list"].command("aws")(images_list)
    groups.image_verbs["prune"].command("aws")(images_prune)
