"""Managed images and Azure Compute Gallery versions: names, tags, create (idempotent), lookup.

Every image lkcloud makes carries the shared tags (``lkcloud:managed``, ``lkcloud:digest``,
``lkcloud:family``) plus the blob it was made from and when; the same name with the same digest
is reused, another digest is an error.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from lkcloud.errors import UsageError
from lkcloud.platform import BootMode
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import tags as lk_tags
from lkcloud_azure.clients import Api

NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?")
NAME_HINT = "use letters, digits, '_', '.' and '-', start with a letter or digit, at most 80 characters"
VERSION = re.compile(r"\d+\.\d+\.\d+")
TAG_KEY = re.compile(r"[^<>%&\\?/]{1,512}")
BLOB_TAG = "lkcloud:blob"
CREATED_TAG = "lkcloud:created"
GENERATIONS: dict[BootMode, str] = {BootMode.BIOS: "V1", BootMode.UEFI: "V2", BootMode.HYBRID: "V2"}
COMPUTE = "providers/Microsoft.Compute"


def doc(model: Any) -> dict[str, Any]:
    """An SDK model as its REST JSON (camelCase keys), or a dict as is."""
    return dict(model.as_dict()) if hasattr(model, "as_dict") else dict(model or {})


def validate_name(value: str, what: str = "image name") -> str:
    if not NAME.fullmatch(value):
        raise UsageError(f"{what} {value!r} is not a valid Azure resource name", hint=NAME_HINT)
    return value


def safe_name(stem: str, limit: int = 80) -> str:
    """An Azure-safe name from a file stem (``linuxkit v1+2`` -> ``linuxkit-v1-2``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "lkcloud"
    return cleaned[:limit].rstrip("-.")


def image_name(family: str, digest: str) -> str:
    """The default image name: the family and the start of the content digest (``web-1a2b3c4d5e6f``)."""
    return f"{safe_name(family, 67)}-{digest.removeprefix('sha256:')[:12]}"


def managed(found: dict[str, Any]) -> bool:
    return (found.get("tags") or {}).get(lk_tags.MANAGED) == lk_tags.TRUE


def parse_tags(pairs: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not TAG_KEY.fullmatch(key) or len(value) > 256 or key.lower().startswith("lkcloud"):
            raise UsageError(f"--tag {pair!r} is not K=V with an Azure tag name and value",
                             hint="names: up to 512 characters without < > % & \\ ? /, not starting with lkcloud; "
                                  "values: up to 256 characters")
        tags[key] = value
    return tags


def lkcloud_tags(digest: str, family: str, blob_url: str, extra: dict[str, str]) -> dict[str, str]:
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {**extra, **lk_tags.spell(lk_tags.standard(digest, family, {BLOB_TAG: blob_url, CREATED_TAG: created}),
                                     lk_tags.Style.TAGS)}


MANAGED_TAGS = lk_tags.spell(lk_tags.standard(), lk_tags.Style.TAGS)


def group_id(api: Api) -> str:
    return f"/subscriptions/{api.config.subscription}/resourceGroups/{api.group}"


def image_id(api: Api, name: str) -> str:
    return f"{group_id(api)}/{COMPUTE}/images/{name}"


@dataclass(frozen=True)
class ImageSpec:
    name: str
    location: str
    generation: str  # V1 (BIOS) or V2 (UEFI)
    blob_url: str
    tags: tuple[tuple[str, str], ...]


def get(api: Api, name: str) -> dict[str, Any] | None:
    found = api.find(f"reading image {name}", api.clients.compute.images.get, api.group, name)
    return None if found is None else doc(found)


def create(api: Api, spec: ImageSpec, reporter: Reporter = NULL) -> dict[str, Any]:
    """A managed image from a VHD page blob (generalized Linux, one region)."""
    body = {
        "location": spec.location,
        "tags": dict(spec.tags),
        "properties": {
            "hyperVGeneration": spec.generation,
            "storageProfile": {"osDisk": {"osType": "Linux", "osState": "Generalized", "blobUri": spec.blob_url,
                                          "caching": "ReadWrite", "storageAccountType": "Standard_LRS"}},
        },
    }
    reporter.step(f"creating image {spec.name} ({spec.generation})")
    return doc(api.operation(f"creating image {spec.name}", api.clients.compute.images.begin_create_or_update,
                             api.group, spec.name, body))


def listing(api: Api) -> list[dict[str, Any]]:
    """The managed images lkcloud made in the resource group."""
    found = api.call("listing images",
                     lambda: [doc(i) for i in api.clients.compute.images.list_by_resource_group(api.group)])
    return [i for i in found if managed(i)]


def delete(api: Api, name: str, reporter: Reporter = NULL) -> None:
    reporter.step(f"deleting image {name}")
    api.operation(f"deleting image {name}", api.clients.compute.images.begin_delete, api.group, name)


def resolve(api: Api, ref: str) -> str:
    """The resource id of an image reference: an id, ``NAME`` (a managed image),
    ``GALLERY/DEFINITION`` (its latest version) or ``GALLERY/DEFINITION/VERSION``."""
    if ref.lower().startswith("/subscriptions/"):
        return ref
    parts = ref.split("/")
    if len(parts) == 1:
        validate_name(ref)
        if get(api, ref) is None:
            raise UsageError(f"image {ref!r} not found in resource group {api.group}",
                             hint="push it first (lkcloud push azure), or give a resource id")
        return image_id(api, ref)
    if len(parts) in (2, 3) and all(NAME.fullmatch(p) for p in parts):
        base = f"{group_id(api)}/{COMPUTE}/galleries/{parts[0]}/images/{parts[1]}"
        return base if len(parts) == 2 else f"{base}/versions/{parts[2]}"
    raise UsageError(f"image {ref!r}: expected NAME, GALLERY/DEFINITION[/VERSION] or a resource id")
