"""``images list|prune gcp``: the images lkcloud made, each marked in use when a fleet's
instance template boots from it, and deleting one (the core's prune policy picks which)."""

from __future__ import annotations

from typing import Any

from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import ImageRecord
from lkcloud_gcp import image
from lkcloud_gcp.calls import listing
from lkcloud_gcp.clients import Api
from lkcloud_gcp.operations import last

ARCHES = {"X86_64": "amd64", "ARM64": "arm64"}  # Compute Engine's words


def referenced(api: Api) -> set[str]:
    """Names of images some instance template boots from."""
    templates = listing(api, "listing instance templates", api.clients.templates.list, project=api.project)
    return {last(disk.initialize_params.source_image)
            for template in templates for disk in template.properties.disks if disk.initialize_params.source_image}


def record(found: Any, in_use: set[str]) -> ImageRecord:
    return ImageRecord("gcp", str(found.self_link), str(found.name), str(found.creation_timestamp),
                       family=str(found.family or ""), digest=image.digest_of(found), in_use=found.name in in_use,
                       arch=ARCHES.get(str(found.architecture or ""), ""),
                       details={"status": str(found.status), "deprecated": found.deprecated.state or None})


def images_list(api: Api) -> list[ImageRecord]:
    """lkcloud's images, newest first, marked in use where a template references them."""
    in_use = referenced(api)
    found = sorted(image.managed(api), key=lambda i: (i.creation_timestamp, i.name), reverse=True)
    return [record(i, in_use) for i in found]


def image_delete(api: Api, found: ImageRecord, reporter: Reporter = NULL) -> None:
    """Delete one image (a GCE image holds nothing else of ours)."""
    reporter.step(f"deleting image {found.name}")
    image.delete(api, found.name, reporter)
