"""``images list|prune azure``: the images lkcloud made, and removing old ones safely.

Pruning keeps the newest ``keep`` managed images and the newest ``keep`` versions of each
gallery image definition, never removes one a scale set or VM boots from (or a managed image a
kept gallery version was made from), and deletes the page blob each removed image came from.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import ImageRecord
from lkcloud_azure import gallery, image
from lkcloud_azure.calls import call, find
from lkcloud_azure.clients import Api
from lkcloud_azure.image import doc


def referenced(api: Api) -> set[str]:
    """Lower-cased ids of the images (and gallery definitions) scale sets and VMs boot from."""
    compute = api.clients.compute

    def listing() -> set[str]:
        refs = set()
        for scale_set in compute.virtual_machine_scale_sets.list(api.group):
            profile = doc(scale_set).get("properties", {}).get("virtualMachineProfile", {})
            refs.add(str(profile.get("storageProfile", {}).get("imageReference", {}).get("id", "")).lower())
        for vm in compute.virtual_machines.list(api.group):
            storage = doc(vm).get("properties", {}).get("storageProfile", {})
            refs.add(str(storage.get("imageReference", {}).get("id", "")).lower())
        return refs - {""}

    return call(api.timing, "listing what scale sets and VMs boot from", listing)


def _kind(found: dict[str, Any]) -> str:
    return "gallery-version" if "/versions/" in str(found["id"]).lower() else "image"


def _in_use(found: dict[str, Any], refs: set[str]) -> bool:
    ident = str(found["id"]).lower()
    definition = ident.split("/versions/")[0] if "/versions/" in ident else None
    return ident in refs or (definition is not None and definition in refs)


def _record(found: dict[str, Any], refs: set[str], action: str | None = None) -> ImageRecord:
    tags = found.get("tags") or {}
    details = {"kind": _kind(found), "digest": tags.get(image.DIGEST_TAG), "blob": tags.get(image.BLOB_TAG)}
    if action:
        details["action"] = action
    return ImageRecord("azure", str(found["id"]), str(found["name"]), str(tags.get(image.CREATED_TAG, "")),
                       _in_use(found, refs), details)


def _series(api: Api) -> dict[str, list[dict[str, Any]]]:
    """Images grouped for keeping: managed images together, versions by definition; newest first."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for found in image.managed(api):
        groups["images"].append(found)
    for version in gallery.versions(api):
        groups[str(version["id"]).lower().split("/versions/")[0]].append(version)
    for members in groups.values():
        members.sort(key=lambda f: ((f.get("tags") or {}).get(image.CREATED_TAG, ""), f["name"]), reverse=True)
    return groups


def list_images(api: Api) -> list[ImageRecord]:
    refs = referenced(api)
    return [_record(found, refs) for members in _series(api).values() for found in members]


def _delete_blob(api: Api, url: str | None, reporter: Reporter) -> None:
    """Delete the page blob an image was made from, when it lives in our storage account."""
    root = str(api.clients.blobs.url).rstrip("/") + "/"
    if not url or not url.startswith(root):
        return
    container, _, blob = url[len(root) :].split("?")[0].partition("/")
    reporter.step(f"deleting blob {container}/{blob}")
    client = api.clients.blobs.get_blob_client(container, blob)
    find(api.timing, f"deleting blob {container}/{blob}", client.delete_blob)


def prune(api: Api, keep: int, dry_run: bool = False, reporter: Reporter = NULL) -> list[ImageRecord]:
    """Delete all but the newest ``keep`` of each series; returns what went (or would go)."""
    if keep < 0:
        raise UsageError(f"--keep {keep}: keep at least 0 images")
    refs = referenced(api)
    series = _series(api)
    sources = {str(v.get("properties", {}).get("storageProfile", {}).get("source", {}).get("id", "")).lower()
               for key, members in series.items() if key != "images" for v in members[:keep]}
    removed: list[ImageRecord] = []
    for key, members in series.items():
        for old in members[keep:]:
            if _in_use(old, refs) or str(old["id"]).lower() in sources:
                reporter.step(f"keeping {old['name']}: in use")
                continue
            removed.append(_record(old, refs, "would delete" if dry_run else "deleted"))
            if dry_run:
                continue
            if key == "images":
                image.delete(api, str(old["name"]), reporter)
            else:
                gallery.delete_version(api, str(old["id"]), reporter)
            if key == "images":
                _delete_blob(api, (old.get("tags") or {}).get(image.BLOB_TAG), reporter)
    return removed
