"""A fleet file carried out: its packages built, its image built and pushed, its fleet made."""

from __future__ import annotations

from pathlib import Path

from lkcloud.fleet.file import FleetFile
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import release
from lkcloud.provider.interface import Provider
from lkcloud.provider.types import FleetSpec


def build_packages(fleet: FleetFile, reporter: Reporter = NULL) -> None:
    """Build the package directories the file lists (lkcloud pkg build), into the image cache."""
    if not fleet.packages:
        return
    from lkcloud.pkg.build import PackageOptions
    from lkcloud.pkg.build import build_packages as build_all
    from lkcloud.settings import cache_dir

    reporter.step(f"building packages: {', '.join(p.name for p in fleet.packages)}")
    build_all(list(fleet.packages), PackageOptions(cache=cache_dir(), arch=str(fleet.arch)), reporter)


def image_for(fleet: FleetFile, provider: Provider, reporter: Reporter = NULL) -> str:
    """The image the fleet runs: its packages and LinuxKit YAML built and pushed, or the image
    it names resolved."""
    build_packages(fleet, reporter)
    if fleet.builds:
        source = release.Source(configs=tuple(Path(f) for f in fleet.image))
        return release.push(provider, source, arch=fleet.arch, reporter=reporter).id
    return release.image_id(provider, release.classify(fleet.image[0]), arch=fleet.arch, reporter=reporter)


def spec(fleet: FleetFile, image: str) -> FleetSpec:
    return FleetSpec(name=fleet.name, image=image, size=fleet.size, user_data=fleet.user_data,
                     instance_type=fleet.instance_type, arch=fleet.arch, policy=fleet.update, health=fleet.health)
