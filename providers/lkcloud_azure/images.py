"""``images list|prune azure``: lkcloud's images in the resource group, and deleting one.

An image is what a push returned: a gallery image version (when the push published one), else
a managed image. A managed image that a version was made from belongs to that version: it is
not listed on its own, and goes with the version. Deleting an image also deletes the page blob
it was made from. The core decides what prune removes (:func:`lkcloud.provider.prune.plan_prune`);
an image a VM or a scale set boots from is marked in use.
"""

from __future__ import annotations

from typing import Any

from lkcloud.progress import NULL, Reporter
from lkcloud.provider import tags as lk_tags
from lkcloud.provider.types import ImageRecord
from lkcloud_azure import gallery, image
from lkcloud_azure.clients import Api
from lkcloud_azure.image import doc
from lkcloud_azure.storage import Storage

VERSIONS = "/versions/"


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

    return api.call("listing what scale sets and VMs boot from", listing)


def _source(version: dict[str, Any]) -> str:
    """The managed image a gallery version was made from (lower-cased id), or ""."""
    storage = version.get("properties", {}).get("storageProfile", {})
    return str(storage.get("source", {}).get("id", "")).lower()


def _in_use(ident: str, refs: set[str]) -> bool:
    ident = ident.lower()
    return ident in refs or (VERSIONS in ident and ident.split(VERSIONS)[0] in refs)


def _record(found: dict[str, Any], refs: set[str], kind: str, holds: str | None = None) -> ImageRecord:
    tags = found.get("tags") or {}
    details = {"kind": kind, "blob": tags.get(image.BLOB_TAG)}
    if holds:
        details["source_image"] = holds
    return ImageRecord("azure", str(found["id"]), str(found["name"]), str(tags.get(image.CREATED_TAG, "")),
                       family=str(tags.get(lk_tags.FAMILY, "")), digest=str(tags.get(lk_tags.DIGEST, "")),
                       in_use=_in_use(str(found["id"]), refs) or (holds is not None and holds.lower() in refs),
                       arch="arm64" if str(found.get(gallery.ARCHITECTURE, "x64")).lower() == "arm64" else "amd64",
                       details=details)


def list_images(api: Api) -> list[ImageRecord]:
    """Every image lkcloud made in the resource group, newest first."""
    refs = referenced(api)
    versions = gallery.versions(api)
    managed = {str(found["id"]).lower(): found for found in image.listing(api)}
    sources = {_source(version) for version in versions}
    records = [_record(v, refs, "gallery-version", str(managed[_source(v)]["id"]) if _source(v) in managed else None)
               for v in versions]
    records += [_record(found, refs, "image") for key, found in managed.items() if key not in sources]
    return sorted(records, key=lambda r: (r.created, r.id), reverse=True)


def _delete_blob(api: Api, url: str | None, reporter: Reporter) -> None:
    """Delete the page blob an image was made from, when it lives in our storage account."""
    if not url or not (api.clients.connection_string or api.config.storage_account):
        return
    service = Storage(api).open(check=False)
    root = str(service.url).rstrip("/") + "/"
    if not url.startswith(root):
        return
    container, _, blob = url[len(root) :].split("?")[0].partition("/")
    reporter.step(f"deleting blob {container}/{blob}")
    client = service.get_blob_client(container, blob)
    api.find(f"deleting blob {container}/{blob}", client.delete_blob)


def _other_sources(api: Api, version_id: str) -> set[str]:
    return {_source(v) for v in gallery.versions(api) if str(v["id"]).lower() != version_id.lower()}


def delete(api: Api, record: ImageRecord, reporter: Reporter = NULL) -> None:
    """Delete one image, the managed image only it was made from, and their blob."""
    if record.details.get("kind") == "gallery-version":
        gallery.delete_version(api, record.id, reporter)
        source = record.details.get("source_image")
        if source and str(source).lower() not in _other_sources(api, record.id) | referenced(api):
            image.delete(api, str(source).rstrip("/").rsplit("/", 1)[1], reporter)
    else:
        image.delete(api, record.name, reporter)
    _delete_blob(api, record.details.get("blob"), reporter)
