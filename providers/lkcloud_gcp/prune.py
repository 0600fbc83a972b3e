"""``images list|prune gcp``: the images lkcloud made, and removing old ones safely.

Pruning keeps the newest ``keep`` images of each family, never touches an image an instance
template references, and deprecates an image (so family lookups move off it) before deleting it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import ImageRecord
from lkcloud_gcp import image
from lkcloud_gcp.calls import listing
from lkcloud_gcp.clients import Api


def _last(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def referenced(api: Api) -> set[str]:
    """Names of images some instance template boots from."""
    pager = listing(api.config.timing, "listing instance templates", api.clients.templates.list,
                    project=api.project)
    return {_last(disk.initialize_params.source_image)
            for template in pager for disk in template.properties.disks if disk.initialize_params.source_image}


def _record(found: Any, in_use: set[str], action: str | None = None) -> ImageRecord:
    details = {"family": found.family or None, "digest": found.labels.get(image.DIGEST_LABEL),
               "deprecated": found.deprecated.state or None, "status": found.status}
    if action:
        details["action"] = action
    return ImageRecord("gcp", found.self_link, found.name, found.creation_timestamp, found.name in in_use, details)


def _images(api: Api, family: str | None) -> list[Any]:
    if family:
        image.validate_name(family, "image family")
    found = [i for i in image.managed(api) if family is None or i.family == family]
    return sorted(found, key=lambda i: (i.creation_timestamp, i.name), reverse=True)


def list_images(api: Api, family: str | None = None) -> list[ImageRecord]:
    """lkcloud's images, newest first, marked in use where a template references them."""
    in_use = referenced(api)
    return [_record(i, in_use) for i in _images(api, family)]


def prune(api: Api, keep: int, family: str | None = None, dry_run: bool = False,
          reporter: Reporter = NULL) -> list[ImageRecord]:
    """Deprecate, then delete, all but the newest ``keep`` images of each family; returns them."""
    if keep < 0:
        raise UsageError(f"--keep {keep}: keep at least 0 images")
    in_use = referenced(api)
    by_family: dict[str, list[Any]] = defaultdict(list)
    for found in _images(api, family):
        by_family[found.family or ""].append(found)
    removed: list[ImageRecord] = []
    for members in by_family.values():
        newest = members[0].self_link if keep else None
        for old in members[keep:]:
            if old.name in in_use:
                reporter.step(f"keeping {old.name}: an instance template uses it")
                continue
            removed.append(_record(old, in_use, "would delete" if dry_run else "deleted"))
            if dry_run:
                continue
            if old.deprecated.state != "DEPRECATED":
                image.deprecate(api, old.name, newest, reporter)
            reporter.step(f"deleting image {old.name}")
            image.delete(api, old.name, reporter)
    return removed
