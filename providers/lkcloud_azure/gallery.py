"""Azure Compute Gallery: the gallery and image definition (made when missing) and versions
made from a managed image, or (Arm64) from the VHD blob, replicated to the regions asked for.

A managed image has no architecture and runs on x64 only; an Arm64 image is a gallery image
definition with ``architecture: Arm64`` whose versions are made from the VHD ("Store and share
images in an Azure Compute Gallery", https://learn.microsoft.com/azure/virtual-machines/shared-image-galleries;
"Gallery Image Versions - Create Or Update": ``storageProfile.osDiskImage.source``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import tags as lk_tags
from lkcloud_azure.clients import Api
from lkcloud_azure.image import MANAGED_TAGS, VERSION, doc, managed, validate_name

GALLERY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]{0,79}")


@dataclass(frozen=True)
class GallerySpec:
    gallery: str
    definition: str
    version: str
    generation: str
    regions: tuple[str, ...] = ()  # besides the home location
    architecture: str = "x64"  # or Arm64

    def check(self) -> GallerySpec:
        if not GALLERY_NAME.fullmatch(self.gallery):
            raise UsageError(f"gallery name {self.gallery!r} is not valid",
                             hint="use letters, digits, '_' and '.', at most 80 characters")
        validate_name(self.definition, "image definition")
        if not VERSION.fullmatch(self.version):
            raise UsageError(f"gallery image version {self.version!r} is not MAJOR.MINOR.PATCH", hint="e.g. 1.0.3")
        return self


def _ensure_gallery(api: Api, spec: GallerySpec) -> None:
    galleries = api.clients.compute.galleries
    if api.find(f"reading gallery {spec.gallery}", galleries.get, api.group, spec.gallery) is None:
        body = {"location": api.config.location, "tags": MANAGED_TAGS, "properties": {}}
        api.operation(f"creating gallery {spec.gallery}", galleries.begin_create_or_update, api.group,
                      spec.gallery, body)


def _ensure_definition(api: Api, spec: GallerySpec) -> None:
    images = api.clients.compute.gallery_images
    found = api.find(f"reading image definition {spec.definition}", images.get, api.group, spec.gallery,
                     spec.definition)
    if found is not None:
        props = doc(found).get("properties", {})
        generation, architecture = props.get("hyperVGeneration", "V1"), props.get("architecture", "x64")
        if generation != spec.generation:
            raise UsageError(f"image definition {spec.definition} is {generation}, the image is {spec.generation}",
                             hint="pass --hyper-v-generation to match, or another --image-definition")
        if str(architecture).lower() != spec.architecture.lower():
            raise UsageError(f"image definition {spec.definition} is {architecture}, the image is {spec.architecture}",
                             hint="pass another --image-definition")
        return
    sku = spec.generation.lower() + ("-arm64" if spec.architecture == "Arm64" else "")
    body = {"location": api.config.location, "tags": MANAGED_TAGS, "properties": {
        "osType": "Linux", "osState": "Generalized", "hyperVGeneration": spec.generation,
        "architecture": spec.architecture,
        "identifier": {"publisher": "lkcloud", "offer": spec.definition, "sku": sku}}}
    api.operation(f"creating image definition {spec.definition}", images.begin_create_or_update, api.group,
                  spec.gallery, spec.definition, body)


def publish(api: Api, spec: GallerySpec, source: dict[str, Any], tags: dict[str, str],
            reporter: Reporter = NULL) -> tuple[str, bool]:
    """The version (made from ``source``, its ``storageProfile``): its resource id, and whether an
    identical version was already there."""
    spec.check()
    _ensure_gallery(api, spec)
    _ensure_definition(api, spec)
    versions = api.clients.compute.gallery_image_versions
    what = f"gallery image version {spec.gallery}/{spec.definition}/{spec.version}"
    found = api.find(f"reading {what}", versions.get, api.group, spec.gallery, spec.definition, spec.version)
    if found is not None:
        existing = doc(found)
        if (existing.get("tags") or {}).get(lk_tags.DIGEST) != tags[lk_tags.DIGEST]:
            raise UsageError(f"{what} already exists with other content", hint="pass another --version")
        return str(existing["id"]), True
    regions = dict.fromkeys((api.config.location, *spec.regions))
    body = {"location": api.config.location, "tags": tags, "properties": {
        "storageProfile": source,
        "publishingProfile": {"targetRegions": [{"name": r, "regionalReplicaCount": 1} for r in regions]}}}
    reporter.step(f"publishing {what} to {', '.join(regions)}")
    created = api.operation(f"publishing {what}", versions.begin_create_or_update, api.group, spec.gallery,
                            spec.definition, spec.version, body)
    return str(doc(created)["id"]), False


ARCHITECTURE = "lkcloud_architecture"  # the definition's architecture, added to each version listed


def versions(api: Api) -> list[dict[str, Any]]:
    """Every lkcloud-made gallery image version in the resource group's galleries (each with its
    definition's architecture under :data:`ARCHITECTURE`)."""
    compute = api.clients.compute

    def listing() -> list[dict[str, Any]]:
        out = []
        for gallery in compute.galleries.list_by_resource_group(api.group):
            for definition in compute.gallery_images.list_by_gallery(api.group, gallery.name):
                architecture = str(doc(definition).get("properties", {}).get("architecture") or "x64")
                for version in compute.gallery_image_versions.list_by_gallery_image(api.group, gallery.name,
                                                                                     definition.name):
                    out.append({**doc(version), ARCHITECTURE: architecture})
        return out

    found = api.call("listing gallery image versions", listing)
    return [v for v in found if managed(v)]


def delete_version(api: Api, version_id: str, reporter: Reporter = NULL) -> None:
    parts = version_id.split("/")
    gallery, definition, version = parts[-5], parts[-3], parts[-1]
    reporter.step(f"deleting gallery image version {gallery}/{definition}/{version}")
    versions = api.clients.compute.gallery_image_versions
    api.operation(f"deleting gallery image version {version}", versions.begin_delete, api.group, gallery,
                  definition, version)
