"""``push gcp``: a built image (or a raw disk) to a Compute Engine image, idempotently.

Names are checked before any API call; an image of the same name and content is reused; the
archive is streamed into Cloud Storage (resumably), imported with a request id, and the
uploaded object removed afterwards. The core records the push (:mod:`lkcloud.provider.release`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from lkcloud.diskfile import Kind
from lkcloud.errors import UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import Artifact, PushResult
from lkcloud_gcp import archive, image
from lkcloud_gcp.clients import Api
from lkcloud_gcp.upload import SessionStore, Uploaded, Uploader, UploadRequest, file_source


@dataclass(frozen=True)
class PushOptions:
    """What only GCP's push takes (``--guest-os-feature``, ``--label``, ``--replace``, ``--keep-upload``)."""

    features: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # K=V
    replace: bool = False
    keep_upload: bool = False


@dataclass(frozen=True)
class Plan:
    """Everything checked and decided before the first API call."""

    spec: image.ImageSpec
    bucket: str
    object_name: str
    upload_key: str
    source: Callable[[], Iterator[bytes]]


def default_name(family: str, digest: str) -> str:
    """``FAMILY-<12 hex digits of the content digest>``: the same content, the same name."""
    return f"{family[:50].rstrip('-')}-{digest.removeprefix('sha256:')[:12]}"


def plan(api: Api, artifact: Artifact, options: PushOptions) -> Plan:
    """Validate names, features, labels and the bucket; pick the object and the source."""
    family = image.image_name(artifact.name)
    name = image.validate_name(artifact.image_name or default_name(family, artifact.digest))
    spec = image.ImageSpec(
        name=name, source_url="", digest=artifact.digest, boot_mode=artifact.boot_mode, family=family,
        features=image.guest_os_features(artifact.boot_mode, options.features),
        labels=tuple(sorted(image.parse_labels(options.labels).items())),
        storage_location=api.config.storage_location, arch=artifact.arch,
    )
    if not api.config.bucket:
        raise UsageError("no bucket to upload the image archive to",
                         hint="pass --bucket, set LKCLOUD_GCP_BUCKET, or put `bucket` under [gcp] in lkcloud.toml")
    is_archive = artifact.kind == Kind.GCE_TAR
    source = file_source(artifact.path) if is_archive else (lambda: archive.gce_archive(artifact.path))
    object_name = f"lkcloud/{name}-{artifact.digest.removeprefix('sha256:')[:16]}.img.tar.gz"
    key_text = f"{artifact.digest}|{api.config.bucket}|{object_name}|{is_archive or archive.VERSION}"
    return Plan(spec, api.config.bucket, object_name, hashlib.sha256(key_text.encode()).hexdigest(), source)


def _result(api: Api, spec: image.ImageSpec, found: Any, *, reused: bool = False, uploaded: Uploaded | None = None,
            details: dict[str, Any] | None = None) -> PushResult:
    resumed = uploaded.resumed_from if uploaded else 0
    return PushResult("gcp", str(found.self_link), spec.name, family=spec.family or "", digest=spec.digest,
                      arch=str(spec.arch), scope={"project": api.project}, reused=reused,
                      bytes_sent=uploaded.size - resumed if uploaded else 0, bytes_skipped=resumed,
                      details=details or {})


def _existing(api: Api, spec: image.ImageSpec, replace: bool, reporter: Reporter) -> PushResult | None:
    """A reusable image's result, or None (after deleting an image to be replaced, or one
    whose import failed)."""
    found = image.get(api, spec.name)
    if found is not None:
        found = image.settled(api, found, reporter)
    if found is None:
        return None
    same = image.same_content(found, spec.digest)
    if same and found.status == image.FAILED:
        reporter.step(f"image {spec.name} failed to import before: deleting it to push again")
        image.delete(api, spec.name, reporter)
        return None
    if same and not replace:
        return _result(api, spec, found, reused=True)
    if not replace:
        raise UsageError(f"image {spec.name} already exists with other content",
                         hint="pass --replace to delete it first, or --name for another name")
    reporter.step(f"deleting the existing image {spec.name}")
    image.delete(api, spec.name, reporter)
    return None


def _upload(api: Api, chosen: Plan, digest: str, reporter: Reporter) -> tuple[Uploader, Uploaded]:
    uploader = Uploader(api.clients.session, api.clients.endpoints.storage, SessionStore(api.config.upload_state),
                        api.config.chunk_size, calls=api.calls, budget=api.config.budgets.upload)
    request = UploadRequest(chosen.bucket, chosen.object_name, chosen.upload_key,
                            metadata=(("lkcloud-digest", digest),))
    return uploader, uploader.upload(request, chosen.source, reporter)


def push(api: Api, artifact: Artifact, options: PushOptions, reporter: Reporter = NULL) -> PushResult:
    """Upload and register ``artifact``, or reuse the image that holds the same content."""
    chosen = plan(api, artifact, options)
    existing = _existing(api, chosen.spec, options.replace, reporter)
    if isinstance(existing, PushResult):
        return existing
    uploader, uploaded = _upload(api, chosen, artifact.digest, reporter)
    spec = replace(chosen.spec, source_url=uploaded.source_url)
    reporter.step(f"creating image {spec.name}")
    created = image.insert(api, spec, reporter)
    if not options.keep_upload:
        uploader.delete(chosen.bucket, chosen.object_name)
    kept = f"gs://{chosen.bucket}/{chosen.object_name}" if options.keep_upload else None
    return _result(api, spec, created, uploaded=uploaded,
                   details={"guest_os_features": list(spec.features), "archive_bytes": uploaded.size, "object": kept})
