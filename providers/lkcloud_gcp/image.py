"""Compute Engine images: names, guest OS features, labels, insert (idempotent), lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.cloud import compute_v1

from lkcloud.errors import UsageError
from lkcloud.platform import Arch, BootMode
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import tags
from lkcloud_gcp import operations
from lkcloud_gcp.calls import call, find, listing, request_id
from lkcloud_gcp.clients import Api

NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
NAME_HINT = ("use lowercase letters, digits and hyphens, start with a letter, end without a hyphen, "
             "at most 63 characters")
LABEL = re.compile(r"[a-z][-_a-z0-9]{0,62}")
LABEL_VALUE = re.compile(r"[-_a-z0-9]{0,63}")
MANAGED_LABEL = tags.label_key(tags.MANAGED)  # every resource lkcloud makes carries lkcloud-managed=true
DIGEST_LABEL = tags.label_key(tags.DIGEST)
FAMILY_LABEL = tags.label_key(tags.FAMILY)
PENDING, DELETING, FAILED = "PENDING", "DELETING", "FAILED"  # image statuses (READY: usable)
DESCRIPTION = "lkcloud image "  # + the full content digest (a label value holds only 63 characters)

FEATURES = frozenset({
    "UEFI_COMPATIBLE", "VIRTIO_SCSI_MULTIQUEUE", "GVNIC", "IDPF", "SEV_CAPABLE", "SEV_SNP_CAPABLE",
    "SEV_LIVE_MIGRATABLE", "SEV_LIVE_MIGRATABLE_V2", "TDX_CAPABLE", "MULTI_IP_SUBNET", "SECURE_BOOT",
})
BASE_FEATURES = ("VIRTIO_SCSI_MULTIQUEUE", "GVNIC")
UEFI_MODES = frozenset({BootMode.UEFI, BootMode.HYBRID})
ARCHITECTURES = {Arch.AMD64: "X86_64", Arch.ARM64: "ARM64"}


def validate_name(value: str, what: str = "image name") -> str:
    """``value`` if GCE accepts it as a resource name, else a UsageError naming the rule."""
    if len(value) > 63 or not NAME.fullmatch(value):
        raise UsageError(f"{what} {value!r} is not a valid GCE name", hint=NAME_HINT)
    return value


def image_name(stem: str) -> str:
    """A GCE-safe image name from a file stem (``linuxkit_v1.2`` -> ``linuxkit-v1-2``)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")
    cleaned = cleaned if cleaned[:1].isalpha() else f"lk-{cleaned}"
    return cleaned[:63].rstrip("-")


def guest_os_features(boot_mode: BootMode, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The features to declare: the base set, UEFI_COMPATIBLE for a disk that boots by UEFI,
    and any extras (validated)."""
    unknown = sorted({f.upper() for f in extra} - FEATURES)
    if unknown:
        raise UsageError(f"unknown guest OS feature {unknown[0]}", hint="choose from: " + ", ".join(sorted(FEATURES)))
    chosen = set(BASE_FEATURES) | {f.upper() for f in extra}
    if boot_mode in UEFI_MODES:
        chosen.add("UEFI_COMPATIBLE")
    return tuple(sorted(chosen))


def parse_labels(pairs: tuple[str, ...]) -> dict[str, str]:
    """``K=V`` labels, checked against GCE's label rules."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not LABEL.fullmatch(key) or not LABEL_VALUE.fullmatch(value):
            raise UsageError(f"label {pair!r} is not K=V with a GCE label key and value",
                             hint="keys: lowercase letter first, then lowercase letters, digits, - and _; "
                                  "values: the same characters; at most 63 each")
        labels[key] = value
    return labels


def labels_for(digest: str, family: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The shared tag vocabulary as GCE labels, plus the user's own."""
    return {**(extra or {}), **tags.spell(tags.standard(digest, family), tags.Style.LABELS)}


def same_content(found: Any, digest: str) -> bool:
    """Whether an image was made from ``digest``."""
    return tags.matches_digest(found.labels.get(DIGEST_LABEL), digest, tags.Style.LABELS)


def digest_of(found: Any) -> str:
    """The full content digest an lkcloud image was made from ("" if unknown)."""
    text = str(found.description or "")
    return text.removeprefix(DESCRIPTION) if text.startswith(DESCRIPTION) else ""


@dataclass(frozen=True)
class ImageSpec:
    name: str
    source_url: str
    digest: str
    boot_mode: BootMode = BootMode.HYBRID
    family: str | None = None
    features: tuple[str, ...] = BASE_FEATURES
    labels: tuple[tuple[str, str], ...] = ()
    storage_location: str | None = None
    arch: Arch = Arch.AMD64

    def resource(self) -> Any:
        return compute_v1.Image(
            name=self.name,
            description=DESCRIPTION + self.digest,
            family=self.family or None,
            raw_disk=compute_v1.RawDisk(source=self.source_url, container_type="TAR"),
            source_type="RAW",
            guest_os_features=[compute_v1.GuestOsFeature(type_=f) for f in self.features],
            labels=labels_for(self.digest, self.family, dict(self.labels)),
            storage_locations=[self.storage_location] if self.storage_location else [],
            architecture=ARCHITECTURES[self.arch],
        )


def get(api: Api, name: str) -> Any | None:
    return find(api, f"looking up image {name}", api.clients.images.get,
                project=api.project, image=name)


def settled(api: Api, found: Any, reporter: Reporter = NULL) -> Any | None:
    """The image once GCE has finished with it: READY or FAILED (waiting while it is PENDING),
    or None when it was being deleted and is gone."""
    if found.status not in (PENDING, DELETING):
        return found
    name = str(found.name)
    reporter.step(f"image {name} is {found.status}: waiting for it")
    return api.calls.wait(f"image {name} to be ready", lambda: get(api, name),
                          lambda image: image is None or image.status not in (PENDING, DELETING),
                          timeout=api.config.budgets.operation, progress=lambda image: image and image.status)


def insert(api: Api, spec: ImageSpec, reporter: Reporter = NULL) -> Any:
    """Create the image and wait for it; the request id makes a retry a no-op."""
    request = compute_v1.InsertImageRequest(project=api.project, image_resource=spec.resource(),
                                            request_id=request_id())
    op = call(api, f"creating image {spec.name}", api.clients.images.insert_unary, request=request)
    operations.wait(api, op, f"image {spec.name}", reporter)
    return call(api, f"reading image {spec.name}", api.clients.images.get,
                project=api.project, image=spec.name)


def delete(api: Api, name: str, reporter: Reporter = NULL) -> None:
    """Delete the image; one already gone (say, by a retried request) is fine."""
    op = find(api, f"deleting image {name}", api.clients.images.delete_unary,
              project=api.project, image=name)
    if op is not None:
        operations.wait(api, op, f"deleting image {name}", reporter)


def resolve(api: Api, ref: str) -> Any:
    """An image by name, ``family/F``, or a ``projects/…/global/images/…`` path or URL."""
    if "/images/" in ref or ref.startswith("projects/"):
        project, _, rest = ref.partition("projects/")[2].partition("/global/images/")
        if rest.startswith("family/"):
            return call(api, f"image family {rest}", api.clients.images.get_from_family,
                        project=project, family=rest.removeprefix("family/"))
        return call(api, f"image {ref}", api.clients.images.get, project=project, image=rest)
    if ref.startswith("family/"):
        family = validate_name(ref.removeprefix("family/"), "image family")
        return call(api, f"image family {family}", api.clients.images.get_from_family,
                    project=api.project, family=family)
    return call(api, f"image {ref}", api.clients.images.get, project=api.project, image=validate_name(ref))


def managed(api: Api) -> list[Any]:
    """Every image in the project that lkcloud made (label lkcloud-managed=true)."""
    request = compute_v1.ListImagesRequest(project=api.project, filter=f"labels.{MANAGED_LABEL} = {tags.TRUE}")
    found = listing(api, "listing images", api.clients.images.list, request=request)
    return [image for image in found if image.labels.get(MANAGED_LABEL) == tags.TRUE]
