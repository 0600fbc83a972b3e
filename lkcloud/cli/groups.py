"""The provider command groups: ``push``, ``run``, ``fleet VERB`` and ``images VERB``.

Each provider registers its own subcommand in each group (``lkcloud push aws``,
``lkcloud fleet refresh gcp NAME``), with its own options, through its CLI module. The fleet
verbs also take a fleet file in place of ``PROVIDER NAME`` (``lkcloud fleet refresh fleet.yml``):
their group routes an argument ending in ``.yml``/``.yaml`` to the ``FLEET.yml`` command.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import typer
from typer.core import TyperGroup

from lkcloud.errors import ProviderUnavailableError
from lkcloud.providers import PROVIDERS, cli_registrar

log = logging.getLogger(__name__)

FLEET_VERBS = ("create", "status", "scale", "refresh", "delete")
IMAGE_VERBS = ("list", "prune")


FLEET_FILE_COMMAND = "FLEET.yml"
FLEET_FILE_SUFFIXES = (".yml", ".yaml")


class FleetVerbGroup(TyperGroup):
    """A fleet verb's group: ``PROVIDER NAME ...``, or a fleet file routed to ``FLEET.yml``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:  # typer's vendored click types
        if args and args[0].endswith(FLEET_FILE_SUFFIXES):
            command = self.get_command(ctx, FLEET_FILE_COMMAND)
            if command is not None:
                return FLEET_FILE_COMMAND, command, args  # the file stays the command's argument
        return super().resolve_command(ctx, args)


def _group(help: str, cls: type[TyperGroup] | None = None) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, pretty_exceptions_enable=False, cls=cls)


@dataclass
class Groups:
    push: typer.Typer = field(default_factory=lambda: _group("Upload and register an image with a provider."))
    run: typer.Typer = field(default_factory=lambda: _group("Run instances of an image on a provider."))
    fleet: typer.Typer = field(default_factory=lambda: _group("Manage fleets: the provider's managed groups."))
    images: typer.Typer = field(default_factory=lambda: _group("List and prune the images lkcloud made."))
    fleet_verbs: dict[str, typer.Typer] = field(default_factory=dict)
    image_verbs: dict[str, typer.Typer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for verb in FLEET_VERBS:
            self.fleet_verbs[verb] = _group(f"fleet {verb} PROVIDER NAME, or fleet {verb} FLEET.yml.", FleetVerbGroup)
            self.fleet.add_typer(self.fleet_verbs[verb], name=verb)
        for verb in IMAGE_VERBS:
            self.image_verbs[verb] = _group(f"images {verb}, per provider.")
            self.images.add_typer(self.image_verbs[verb], name=verb)


def build_groups(app: typer.Typer) -> Groups:
    """Create the provider groups on ``app`` and let every available provider register."""
    groups = Groups()
    app.add_typer(groups.push, name="push")
    app.add_typer(groups.run, name="run")
    app.add_typer(groups.fleet, name="fleet")
    app.add_typer(groups.images, name="images")
    from lkcloud.cli import fleetfile  # imports this module

    fleetfile.register(groups)
    for name in PROVIDERS:
        try:
            cli_registrar(name)(groups)
        except ProviderUnavailableError as exc:
            log.debug("provider %s has no CLI: %s", name, exc)
    return groups
