"""The provider command groups: ``push``, ``run``, ``fleet VERB`` and ``images VERB``.

Each provider registers its own subcommand in each group (``lkcloud push aws``,
``lkcloud fleet refresh gcp NAME``), with its own options, through its CLI module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import typer

from lkcloud.errors import ProviderUnavailableError
from lkcloud.providers import PROVIDERS, cli_registrar

log = logging.getLogger(__name__)

FLEET_VERBS = ("create", "status", "scale", "refresh", "delete")
IMAGE_VERBS = ("list", "prune")


def _group(help: str) -> typer.Typer:
    return typer.Typer(help=help, no_args_is_help=True, pretty_exceptions_enable=False)


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
            self.fleet_verbs[verb] = _group(f"fleet {verb}, per provider.")
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
    for name in PROVIDERS:
        try:
            cli_registrar(name)(groups)
        except ProviderUnavailableError as exc:
            log.debug("provider %s has no CLI: %s", name, exc)
    return groups
