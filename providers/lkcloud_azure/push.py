"""``push azure``: a fixed VHD to a managed image, and optionally a Compute Gallery version,
idempotently.

Everything is checked before the first call (the VHD's footer and size, names, tags, the
gallery version). An image of the same name and digest is reused without uploading; the VHD
goes up as a resumable page blob named from the family and the content, built on the family's
previous blob where there is one (:mod:`lkcloud_azure.incremental`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lkcloud.errors import LkcloudError, UsageError
from lkcloud.platform import Arch
from lkcloud.progress import NULL, Reporter
from lkcloud.provider import tags as lk_tags
from lkcloud.provider.types import Artifact, PushResult
from lkcloud_azure import gallery, image, storage, vhd
from lkcloud_azure.clients import Api
from lkcloud_azure.incremental import NONE, Lineage
from lkcloud_azure.upload import PageBlobUploader, UploadResult

GENERATIONS = ("V1", "V2")


@dataclass(frozen=True)
class PushOptions:
    generation: str | None = None  # V1 | V2; default from the artifact's boot mode
    gallery: str | None = None
    definition: str | None = None
    version: str | None = None
    replicate_to: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # K=V
    parent: str | None = None  # --parent: the blob to build on, "none" (a full upload); default the family's newest


@dataclass(frozen=True)
class Plan:
    """Everything checked and decided before the first API call."""

    disk: vhd.FixedVhd
    name: str
    generation: str
    blob: str
    tags: dict[str, str]
    gallery: gallery.GallerySpec | None
    lineage: Lineage


def plan(api: Api, artifact: Artifact, options: PushOptions) -> Plan:
    disk = vhd.check(artifact.path)
    arm64 = artifact.arch is Arch.ARM64
    if arm64 and not (options.gallery or api.config.gallery):
        raise UsageError("an Arm64 image needs an Azure Compute Gallery: managed images run on x64 only",
                         hint="pass --gallery, --image-definition and --version")
    if arm64 and not api.config.storage_account:
        raise UsageError("an Arm64 gallery version is made from the VHD blob, so its storage account must be named",
                         hint="pass --storage-account")
    name = image.validate_name(artifact.image_name or image.image_name(artifact.name, artifact.digest))
    generation = (options.generation or image.GENERATIONS[artifact.boot_mode]).upper()
    if generation not in GENERATIONS:
        raise UsageError(f"--hyper-v-generation {options.generation!r}: choose V1 (BIOS) or V2 (UEFI)")
    spec = None
    gallery_name = options.gallery or api.config.gallery
    if gallery_name:
        if not options.definition or not options.version:
            raise UsageError("publishing to a gallery needs --image-definition and --version")
        spec = gallery.GallerySpec(gallery_name, options.definition, options.version, generation,
                                   tuple(options.replicate_to), "Arm64" if arm64 else "x64").check()
    elif options.replicate_to or options.definition or options.version:
        raise UsageError("--image-definition, --version and --replicate-to need --gallery")
    prefix = f"{image.safe_name(artifact.name, 60)}-"
    blob = f"{prefix}{artifact.digest.removeprefix('sha256:')[:16]}.vhd"
    return Plan(disk, name, generation, blob, image.parse_tags(options.tags), spec,
                Lineage(artifact.name, prefix, parent=_parent(options.parent), arch=str(artifact.arch)))


def _parent(value: str | None) -> str | None:
    """--parent: a blob name in the container, or none."""
    if value is None or value.lower() == NONE:
        return None if value is None else NONE
    if not 0 < len(value) <= 1024 or not value.isprintable() or value.startswith("/"):
        raise UsageError(f"--parent {value!r}: not a blob name", hint="name a blob in --container, or none")
    return value


def _reuse(found: dict[str, object], chosen: Plan, digest: str) -> str:
    tags = found.get("tags") or {}
    assert isinstance(tags, dict)
    if tags.get(lk_tags.DIGEST) != digest:
        raise UsageError(f"image {chosen.name} already exists in {found.get('location')} with other content",
                         hint="pass --name for another name, or prune the old image (lkcloud images prune azure)")
    return str(tags.get(image.BLOB_TAG, ""))


def upload(api: Api, chosen: Plan, digest: str, reporter: Reporter = NULL) -> UploadResult:
    """The VHD into its page blob; refused Entra ID credentials go again with the account key."""
    target = storage.Storage(api)

    def into(service: object) -> UploadResult:
        uploader = PageBlobUploader(service, api.config.container, api.calls, api.config.concurrency,
                                    api.config.timing.operation_seconds)
        return uploader.upload(chosen.disk, chosen.blob, digest, reporter, chosen.lineage)

    try:
        return into(target.open())
    except LkcloudError as exc:
        if not target.retry_with_key(exc):
            raise
        reporter.step(f"{exc.message}: uploading with the account key instead")
        return into(target.with_key())


def _result(api: Api, artifact: Artifact, chosen: Plan, result_id: str, *, reused: bool,
            uploaded: UploadResult | None, details: dict[str, object]) -> PushResult:
    regions = (api.config.location, *(chosen.gallery.regions if chosen.gallery else ()))
    return PushResult(
        "azure", result_id, chosen.name, family=artifact.name, digest=artifact.digest, arch=str(artifact.arch),
        locations=tuple((region, result_id) for region in dict.fromkeys(regions)), reused=reused,
        bytes_sent=uploaded.bytes_sent if uploaded else 0,
        bytes_skipped=uploaded.bytes_skipped if uploaded else chosen.disk.size,
        parent=uploaded.parent if uploaded else None,
        scope={"subscription": api.config.subscription, "resource_group": api.group,
               "location": api.config.location},
        details=details)


def _push_arm64(api: Api, artifact: Artifact, chosen: Plan, reporter: Reporter) -> PushResult:
    """Arm64: the gallery version is made from the VHD blob itself (no managed image)."""
    assert chosen.gallery is not None
    uploaded = upload(api, chosen, artifact.digest, reporter)
    source = {"osDiskImage": {"source": {"uri": uploaded.url, "storageAccountId": storage.account(api).id}}}
    tags = image.lkcloud_tags(artifact.digest, artifact.name, uploaded.url, chosen.tags)
    version_id, reused = gallery.publish(api, chosen.gallery, source, tags, reporter)
    details: dict[str, object] = {"generation": chosen.generation, "blob": uploaded.url, "gallery_version": version_id,
                                  "resumed_ranges": uploaded.skipped, "upload": uploaded.how}
    return _result(api, artifact, chosen, version_id, reused=reused and uploaded.reused, uploaded=uploaded,
                   details=details)


def push(api: Api, artifact: Artifact, options: PushOptions, reporter: Reporter = NULL) -> PushResult:
    """Upload and register ``artifact`` (the core records the push)."""
    chosen = plan(api, artifact, options)
    if chosen.gallery is not None and chosen.gallery.architecture == "Arm64":
        return _push_arm64(api, artifact, chosen, reporter)
    found = image.get(api, chosen.name)
    uploaded: UploadResult | None = None
    if found is not None:
        blob_url = _reuse(found, chosen, artifact.digest)
        created = found
    else:
        uploaded = upload(api, chosen, artifact.digest, reporter)
        blob_url = uploaded.url
        spec = image.ImageSpec(chosen.name, api.config.location, chosen.generation, blob_url,
                               tuple(image.lkcloud_tags(artifact.digest, artifact.name, blob_url, chosen.tags).items()))
        created = image.create(api, spec, reporter)
    image_id = str(created["id"])
    result_id, reused = image_id, found is not None
    details: dict[str, object] = {"generation": chosen.generation, "blob": blob_url, "image": image_id,
                                  "resumed_ranges": uploaded.skipped if uploaded else 0,
                                  "upload": uploaded.how if uploaded else {"mode": "reused"}}
    if chosen.gallery is not None:
        tags = image.lkcloud_tags(artifact.digest, artifact.name, blob_url, chosen.tags)
        result_id, version_reused = gallery.publish(api, chosen.gallery, {"source": {"id": image_id}}, tags, reporter)
        reused = reused and version_reused
        details["gallery_version"] = result_id
    return _result(api, artifact, chosen, result_id, reused=reused, uploaded=uploaded, details=details)
