"""The provider verbs, registered once by the core for every provider: ``push``, ``run``,
``fleet create|status|scale|refresh|delete`` and ``images list|prune``.

Each command is the verb's shared options (one vocabulary on every provider: ``--size`` is an
instance count, ``--instance-type`` a machine type, ``--canary`` a percent, ``--arch`` amd64 or
arm64) plus the options the provider declares in its table (:mod:`lkcloud.provider.options`).
The fleet verbs also take a fleet file in place of ``PROVIDER NAME``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from lkcloud.cli import fleetfiles, verbs
from lkcloud.provider import registry
from lkcloud.provider.options import ProviderOption, ProviderOptions, Verb

FLEET_FILE_COMMAND = "FLEET.yml"
FLEET_FILE_SUFFIXES = (".yml", ".yaml")
KW = inspect.Parameter.KEYWORD_ONLY


def _p(name: str, default: Any, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, KW, default=default, annotation=annotation)


def _data() -> list[inspect.Parameter]:
    return [_p("data", typer.Option(None, "--data", help="User data (LinuxKit JSON) as a string."), str | None),
            _p("data_file", typer.Option(None, "--data-file", help="User data (LinuxKit JSON) from a file.",
                                         dir_okay=False), Path | None)]


def _arch() -> inspect.Parameter:
    return _p("arch", typer.Option(None, "--arch", help="amd64 or arm64 (x86_64, aarch64) (default: LKCLOUD_ARCH,"
                                   " else this machine's)."), str | None)


def _fleet() -> inspect.Parameter:
    return _p("fleet", typer.Argument(..., help="The fleet's name."), str)


def _image_option(help: str) -> inspect.Parameter:
    return _p("image", typer.Option([], "--image", help=help), list[str])


def _instance_type(table: ProviderOptions) -> inspect.Parameter:
    return _p("instance_type", typer.Option(None, "--instance-type", *table.instance_type_aliases,
                                            help="Machine type (default: the provider's, for the architecture)."),
              str | None)


def _yes() -> inspect.Parameter:
    return _p("yes", typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."), bool)


def _common(verb: Verb, table: ProviderOptions) -> list[inspect.Parameter]:
    """The verb's shared options, the same on every provider."""
    if verb is Verb.PUSH:
        return [_p("source", typer.Argument(..., help="LinuxKit YAML files (built first, merged in order) or an"
                                            " image file."), list[str]),
                _p("image_name", typer.Option(None, "--name", help="Image name (default: from the family and the"
                                              " content digest)."), str | None),
                _p("family", typer.Option(None, "--family", help="Image family (default: the config's or file's"
                                          " name); prune keeps the newest of each."), str | None),
                _arch(),
                _p("boot_mode", typer.Option(None, "--boot-mode", help="bios, uefi or hybrid (default: read from"
                                             " the disk)."), str | None)]
    if verb is Verb.RUN:
        return [_p("image", typer.Argument(None, help="An image id or name, an image file, or LinuxKit YAML"
                                           " (default: the image last pushed from this directory)."), list[str]),
                _p("instance_name", typer.Option(None, "--name", help="Instance name."), str | None),
                _p("count", typer.Option(1, "--count", min=1, help="How many instances."), int),
                _instance_type(table), *_data(),
                _p("console", typer.Option(False, "--console", help="Print the console output."), bool),
                _arch()]
    if verb is Verb.CREATE:
        return [_fleet(), _image_option("Image id or name, image file, or LinuxKit YAML (repeat to merge; default:"
                                        " the last push)."),
                _p("size", typer.Option(1, "--size", min=0, help="Number of instances."), int),
                _instance_type(table), *_data(), _arch()]
    if verb is Verb.REFRESH:
        def number(flag: str, help: str, low: int = 0, high: int | None = None) -> Any:
            return typer.Option(None, flag, min=low, max=high, help=help)

        return [_fleet(), _image_option("New image: id or name, image file, or LinuxKit YAML (default: keep it)."),
                *_data(), _arch(),
                _p("canary_percent", number("--canary", "Stop at this percent of the fleet for --pause seconds.",
                                            1, 99), int | None),
                _p("pause_seconds", number("--pause", "Seconds to stay at the --canary checkpoint."), int | None),
                _p("min_healthy_percent", number("--min-healthy", "Percent of the fleet that stays healthy.", 0, 100),
                   int | None),
                _p("warmup_seconds", number("--warmup", "Seconds before a new instance counts as healthy."),
                   int | None),
                _p("max_surge", number("--max-surge", "Extra instances during the update."), int | None),
                _p("max_unavailable", number("--max-unavailable", "Instances down at once."), int | None)]
    if verb is Verb.STATUS:
        return [_fleet()]
    if verb is Verb.SCALE:
        return [_fleet(), _p("size", typer.Option(..., "--size", min=0, help="Number of instances."), int)]
    if verb is Verb.DELETE:
        return [_fleet(), _yes()]
    family = _p("family", typer.Option(None, "--family", help="Only this image family."), str | None)
    if verb is Verb.LIST:
        return [family]
    return [_p("keep", typer.Option(3, "--keep", min=1, help="Newest images to keep per family."), int), family,
            _p("dry_run", typer.Option(False, "--dry-run", help="Only show what would be removed."), bool), _yes()]


def _describe(option: ProviderOption) -> str:
    setting = option.setting
    if setting is None:
        return option.help
    default = f"default: {setting.default}; " if setting.default not in (None, "", []) else ""
    return f"{option.help} ({default}{setting.env})"


def _extra(option: ProviderOption) -> inspect.Parameter:
    annotation: Any = option.type
    if option.multiple:
        return _p(option.name, typer.Option([], *option.flags, help=_describe(option)), list[annotation])
    if option.type is bool:
        return _p(option.name, typer.Option(None, *option.flags, help=_describe(option)), bool | None)
    return _p(option.name, typer.Option(None, *option.flags, help=_describe(option)), annotation | None)


def _flag(option: ProviderOption, value: Any) -> Any:
    if option.multiple:
        items = [str(item) for item in value or ()]
        if option.comma_list:
            items = [part for item in items for part in item.split(",")]
        return tuple(item.strip() for item in items if item.strip()) or None
    return value


DOCS = {
    Verb.PUSH: "Upload and register an image on {p} (building LinuxKit YAML first); reuses an identical one.",
    Verb.RUN: "Run instances of an image on {p}.",
    Verb.CREATE: "Create a fleet on {p}: the platform's own managed group of instances.",
    Verb.STATUS: "Show a fleet on {p}: each instance's state, health and version.",
    Verb.SCALE: "Set a fleet's size on {p}.",
    Verb.REFRESH: "Roll a fleet on {p} onto a new image and/or user data; exit 1 if the rollout stops.",
    Verb.DELETE: "Delete a fleet on {p} and everything lkcloud made for it.",
    Verb.LIST: "List the images lkcloud made on {p}, newest first.",
    Verb.PRUNE: "Remove all but the newest images of each family on {p}; never one in use.",
}
ACTIONS: dict[Verb, Callable[..., None]] = {
    Verb.PUSH: verbs.push, Verb.RUN: verbs.run, Verb.CREATE: verbs.fleet_create, Verb.STATUS: verbs.fleet_status,
    Verb.SCALE: verbs.fleet_scale, Verb.REFRESH: verbs.fleet_refresh, Verb.DELETE: verbs.fleet_delete,
    Verb.LIST: verbs.images_list, Verb.PRUNE: verbs.images_prune,
}


def command(verb: Verb, name: str) -> Callable[..., None]:
    """The command ``lkcloud VERB NAME``: shared options plus the provider's own."""
    table = registry.options(name)
    common = _common(verb, table)
    extra = table.for_verb(verb)
    clash = {o.name for o in extra} & {p.name for p in common}
    assert not clash, f"provider {name} redefines shared options {clash}"
    action = ACTIONS[verb]

    def handler(**kwargs: Any) -> None:
        flags = {option.name: _flag(option, kwargs.pop(option.name, None)) for option in extra}
        action(name, flags, **kwargs)

    handler.__signature__ = inspect.Signature([*common, *(_extra(o) for o in extra)])  # type: ignore[attr-defined]
    handler.__doc__ = DOCS[verb].format(p=name)
    handler.__name__ = f"{verb.value.replace(' ', '_')}_{name}"
    return handler


class FleetVerbGroup(TyperGroup):
    """A fleet verb's group: ``PROVIDER NAME ...``, or a fleet file routed to ``FLEET.yml``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:  # typer's vendored click types
        if args and args[0].endswith(FLEET_FILE_SUFFIXES):
            found = self.get_command(ctx, FLEET_FILE_COMMAND)
            if found is not None:
                return FLEET_FILE_COMMAND, found, args  # the file stays the command's argument
        return super().resolve_command(ctx, args)


def _group(help: str, cls: type[TyperGroup] | None = None) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, pretty_exceptions_enable=False, cls=cls)


def _available(verb: Verb) -> list[str]:
    return [name for name in registry.PROVIDERS if verb in registry.options(name).verbs]


def register(app: typer.Typer) -> None:
    """Add ``push``, ``run``, ``fleet VERB`` and ``images VERB`` with a command per provider."""
    push = _group("Upload and register an image with a provider (or with every cloud: push all).")
    run = _group("Run instances of an image on a provider.")
    fleet = _group("Manage fleets: the provider's managed groups. Each verb takes PROVIDER NAME or FLEET.yml.")
    images = _group("List and prune the images lkcloud made.")
    for name in _available(Verb.PUSH):
        push.command(name)(command(Verb.PUSH, name))
    push.command("all")(push_all_command)
    for name in _available(Verb.RUN):
        run.command(name)(command(Verb.RUN, name))
    for verb in (Verb.CREATE, Verb.STATUS, Verb.SCALE, Verb.REFRESH, Verb.DELETE):
        short = verb.value.split()[1]
        group = _group(f"fleet {short} PROVIDER NAME, or fleet {short} FLEET.yml.", FleetVerbGroup)
        for name in _available(verb):
            group.command(name)(command(verb, name))
        group.command(FLEET_FILE_COMMAND)(fleetfiles.HANDLERS[short])
        fleet.add_typer(group, name=short)
    for verb in (Verb.LIST, Verb.PRUNE):
        short = verb.value.split()[1]
        group = _group(f"images {short}, per provider.")
        for name in _available(verb):
            group.command(name)(command(verb, name))
        images.add_typer(group, name=short)
    app.add_typer(push, name="push")
    app.add_typer(run, name="run")
    app.add_typer(fleet, name="fleet")
    app.add_typer(images, name="images")


def push_all_command(
    source: list[str] = typer.Argument(..., help="LinuxKit YAML files, built once and merged in order."),
    clouds: str = typer.Option(",".join(registry.CLOUDS), "--to", help="Clouds to push to, comma-separated."),
    image_name: str | None = typer.Option(None, "--name", help="Image name on every cloud."),
    arches: list[str] = typer.Option([], "--arch", help="amd64 or arm64 (default: this machine's); repeat to build"
                                                        " and push each architecture."),
) -> None:
    """Build once per architecture and push to several clouds at once; each cloud's image id or error.
    Exit 1 unless all pushed."""
    verbs.push_to_all(source=source, clouds=clouds, image_name=image_name, arches=arches)
