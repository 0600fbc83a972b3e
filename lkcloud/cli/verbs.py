"""What each provider verb does, once for every provider: resolve the provider and the image,
call the provider, render. The commands themselves are made in :mod:`lkcloud.cli.providers`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import typer

from lkcloud.cli.context import emit, reporter
from lkcloud.errors import UsageError
from lkcloud.fleet.defaults import defaults
from lkcloud.platform import Arch, host_arch, parse_arch, parse_boot_mode
from lkcloud.provider import release, render
from lkcloud.provider.interface import Provider
from lkcloud.provider.prune import plan_prune
from lkcloud.provider.push_all import push_all, text
from lkcloud.provider.registry import CLOUDS, load
from lkcloud.provider.types import FleetSpec, UpdatePolicy
from lkcloud.settings import ARCH, Settings
from lkcloud.userdata.tree import read_user_data


def arch_of(flag: str | None, settings: Settings | None = None) -> Arch:
    """--arch, else LKCLOUD_ARCH or ``arch`` in lkcloud.toml, else this machine's."""
    value = (settings or Settings()).get(ARCH, flag)
    return parse_arch(str(value)) if value else host_arch()


def confirm(question: str, yes: bool) -> None:
    """Ask on a terminal before a destructive step (``--yes`` skips it; scripts are not asked)."""
    if yes or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


def provider_for(name: str, flags: dict[str, Any]) -> Provider:
    return load(name, Settings(), **flags)


def _with_last_push(name: str, flags: dict[str, Any], source: release.Source, arch: Arch) -> dict[str, Any]:
    """With no image given, the last push's scope (its region, project...) fills unset flags."""
    if not source.empty:
        return flags
    scope = release.last_pushed(name, arch).scope
    return {**flags, **{key: value for key, value in scope.items() if key in flags and flags[key] is None}}


def push(name: str, flags: dict[str, Any], *, source: list[str], image_name: str | None, family: str | None,
         arch: str | None, boot_mode: str | None) -> None:
    chosen = release.classify(source)
    provider = provider_for(name, flags)
    mode = parse_boot_mode(boot_mode) if boot_mode else None
    result = release.push(provider, chosen, arch=arch_of(arch), name=image_name, family=family, boot_mode=mode,
                          reporter=reporter())
    emit(result, lambda: render.push_text(result), ids=[result.id])


def push_to_all(*, source: list[str], clouds: str, image_name: str | None, arches: list[str]) -> None:
    chosen = release.classify(source)
    if not chosen.configs:
        raise UsageError("push all builds LinuxKit YAML", hint="give one or more .yml files")
    wanted = [cloud.strip() for cloud in clouds.split(",") if cloud.strip()]
    unknown = [cloud for cloud in wanted if cloud not in CLOUDS]
    if unknown or not wanted:
        raise UsageError(f"--to {clouds}: choose among {', '.join(CLOUDS)}")
    parts = [part for arch in arches for part in arch.split(",") if part]
    targets = [arch_of(part) for part in parts] or [arch_of(None)]
    summary = push_all(chosen.configs, wanted, arches=targets, name=image_name, reporter=reporter())
    emit(summary, lambda: text(summary), ids=[o.id or "-" for o in summary.pushes])
    if not summary.succeeded:
        raise typer.Exit(1)


def run(name: str, flags: dict[str, Any], *, image: list[str], instance_name: str | None, count: int,
        instance_type: str | None, data: str | None, data_file: Path | None, console: bool,
        arch: str | None) -> None:
    from lkcloud.provider.types import RunRequest

    chosen, target = release.classify(image), arch_of(arch)
    user_data = read_user_data(data, data_file, name)
    provider = provider_for(name, _with_last_push(name, flags, chosen, target))
    image_id = release.image_id(provider, chosen, arch=target, reporter=reporter())
    request = RunRequest(image=image_id, name=instance_name, count=count, user_data=user_data,
                         instance_type=instance_type, console=console, arch=target)
    result = provider.run(request, reporter())
    emit(result, lambda: render.run_text(result), ids=render.instance_ids(result))


def fleet_create(name: str, flags: dict[str, Any], *, fleet: str, image: list[str], size: int,
                 instance_type: str | None, data: str | None, data_file: Path | None, arch: str | None) -> None:
    chosen, target = release.classify(image), arch_of(arch)
    user_data = read_user_data(data, data_file, name)
    provider = provider_for(name, _with_last_push(name, flags, chosen, target))
    base = defaults(name)
    image_id = release.image_id(provider, chosen, arch=target, reporter=reporter())
    spec = FleetSpec(name=fleet, image=image_id, size=size, user_data=user_data,
                     instance_type=instance_type, arch=target, policy=base.update, health=base.health)
    status = provider.fleet_create(spec, reporter())
    emit(status, lambda: render.fleet_text(status), ids=render.instance_ids(status))


def fleet_status(name: str, flags: dict[str, Any], *, fleet: str) -> None:
    status = provider_for(name, flags).fleet_status(fleet)
    emit(status, lambda: render.fleet_text(status), ids=render.instance_ids(status))


def fleet_scale(name: str, flags: dict[str, Any], *, fleet: str, size: int) -> None:
    status = provider_for(name, flags).fleet_scale(fleet, size, reporter())
    emit(status, lambda: render.fleet_text(status), ids=render.instance_ids(status))


def policy_from(base: UpdatePolicy, **given: int | None) -> UpdatePolicy:
    """The provider's default update policy with the flags that were given."""
    changes: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    return dataclasses.replace(base, **changes)


def fleet_refresh(name: str, flags: dict[str, Any], *, fleet: str, image: list[str], data: str | None,
                  data_file: Path | None, arch: str | None, **policy: int | None) -> None:
    chosen, target = release.classify(image), arch_of(arch)
    user_data = read_user_data(data, data_file, name)
    provider = provider_for(name, flags)
    image_id = None if chosen.empty else release.image_id(provider, chosen, arch=target, reporter=reporter())
    if image_id is None and user_data is None:
        raise UsageError("nothing to refresh to", hint="give --image and/or --data / --data-file")
    result = provider.fleet_refresh(fleet, image_id, user_data, policy_from(defaults(name).update, **policy),
                                    reporter())
    emit(result, lambda: render.refresh_text(result), ids=[result.new_image])
    if not result.succeeded:
        raise typer.Exit(1)


def fleet_delete(name: str, flags: dict[str, Any], *, fleet: str, yes: bool) -> None:
    provider = provider_for(name, flags)
    confirm(f"delete fleet {fleet} ({name}) and all its instances?", yes)
    provider.fleet_delete(fleet, reporter())
    emit({"deleted": fleet, "provider": name}, f"deleted fleet {fleet}", ids=[fleet])


def images_list(name: str, flags: dict[str, Any], *, family: str | None) -> None:
    records = [r for r in provider_for(name, flags).images_list() if family is None or r.family == family]
    emit(records, lambda: render.images_text(records), ids=[r.id for r in records])


def images_prune(name: str, flags: dict[str, Any], *, keep: int, family: str | None, dry_run: bool,
                 yes: bool) -> None:
    provider = provider_for(name, flags)
    records = [r for r in provider.images_list() if family is None or r.family == family]
    plan = plan_prune(records, keep)
    if plan.remove and not dry_run:
        confirm(f"remove {len(plan.remove)} image(s) from {name}?", yes)
        for record in plan.remove:
            provider.image_delete(record, reporter())
    emit({"removed": list(plan.remove), "kept": list(plan.keep), "in_use": list(plan.in_use), "dry_run": dry_run},
         lambda: render.prune_text(plan, dry_run), ids=[r.id for r in plan.remove])
