"""``push gcp``: a built image (or a raw disk) to a Compute Engine image, idempotently.

Names are checked before any API call; an image of the same name and content is reused; the
archive is streamed into Cloud Storage (resumably), imported with a request id derived from
name and content, and the uploaded object removed afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from lkcloud import state
from lkcloud.errors import ProviderError, UsageError
from lkcloud.platform import BootMode
from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import Artifact, PushResult
from lkcloud_gcp import archive, image
from lkcloud_gcp.clients import Api
from lkcloud_gcp.upload import SessionStore, Uploader, UploadRequest, file_source

SECTION = "push.gcp"
ARCHIVE_SUFFIX = ".tar.gz"
YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class PushOptions:
    name: str | None = None
    family: str | None = None
    boot_mode: BootMode | None = None
    features: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # K=V
    replace: bool = False
    keep_upload: bool = False
    record_in: Path | None = None  # directory whose lkcloud state records the push (None: cwd)


@dataclass(frozen=True)
class Plan:
    """Everything checked and decided before the first API call."""

    spec: image.ImageSpec
    bucket: str
    object_name: str
    upload_key: str
    source: Callable[[], Iterator[bytes]]


def artifact_for(path: Path, outdir: Path, reporter: Reporter = NULL) -> Path:
    """The image file to push: ``path`` itself, or the ``gcp`` build of a LinuxKit YAML."""
    if path.suffix not in YAML_SUFFIXES:
        return path
    from lkcloud.build import build_one

    try:
        return build_one([path], "gcp", outdir, reporter)
    except NotImplementedError as exc:
        raise ProviderError("building a .yml is not available in this version of lkcloud",
                            hint="run `lkcloud build -f gcp` and push the .img.tar.gz") from exc


def plan(api: Api, artifact: Artifact, options: PushOptions) -> Plan:
    """Validate names, features, labels and the bucket; pick the object and the source."""
    name = image.validate_name(options.name or image.image_name(artifact.name))
    family = options.family or api.config.family
    if family:
        image.validate_name(family, "image family")
    boot_mode = options.boot_mode or artifact.boot_mode
    spec = image.ImageSpec(
        name=name, source_url="", digest=artifact.digest, boot_mode=boot_mode, family=family,
        features=image.guest_os_features(boot_mode, options.features),
        labels=tuple(sorted(image.parse_labels(options.labels).items())),
        storage_location=api.config.storage_location, arch=artifact.arch,
    )
    if not api.config.bucket:
        raise UsageError("no bucket to upload the image archive to",
                         hint="pass --bucket, set LKCLOUD_GCP_BUCKET, or put `bucket` under [gcp] in lkcloud.toml")
    is_archive = artifact.path.name.endswith(ARCHIVE_SUFFIX)
    source = file_source(artifact.path) if is_archive else (lambda: archive.gce_archive(artifact.path))
    object_name = f"lkcloud/{name}-{image.digest_label(artifact.digest)[:16]}.img.tar.gz"
    key_text = f"{artifact.digest}|{api.config.bucket}|{object_name}|{is_archive or archive.VERSION}"
    return Plan(spec, api.config.bucket, object_name, hashlib.sha256(key_text.encode()).hexdigest(), source)


def _existing(api: Api, spec: image.ImageSpec, replace: bool, reporter: Reporter) -> PushResult | str | None:
    """A reusable image's result, the id of the image a replace deleted, or None."""
    found = image.get(api, spec.name)
    if found is None:
        return None
    same = found.labels.get(image.DIGEST_LABEL) == image.digest_label(spec.digest)
    if same and not replace:
        return PushResult("gcp", spec.name, found.self_link, reused=True, details={"family": found.family})
    if not replace:
        raise UsageError(f"image {spec.name} already exists with other content",
                         hint="pass --replace to delete it first, or --name for another name")
    reporter.step(f"deleting the existing image {spec.name}")
    image.delete(api, spec.name, reporter)
    return str(found.id)


def push(api: Api, artifact: Artifact, options: PushOptions, reporter: Reporter = NULL) -> PushResult:
    """Upload and register ``artifact``; record it as this directory's last GCP push."""
    chosen = plan(api, artifact, options)
    result = _existing(api, chosen.spec, options.replace, reporter)
    if not isinstance(result, PushResult):
        uploader = Uploader(api.clients.session, api.clients.endpoints.storage, SessionStore(api.config.upload_state),
                            api.config.chunk_size, api.config.timing)
        request = UploadRequest(chosen.bucket, chosen.object_name, chosen.upload_key,
                                metadata=(("lkcloud-digest", artifact.digest),))
        uploaded = uploader.upload(request, chosen.source, reporter)
        spec = replace(chosen.spec, source_url=uploaded.source_url, replaces=result or "")
        reporter.step(f"creating image {spec.name}")
        created = image.insert(api, spec, reporter)
        if not options.keep_upload:
            uploader.delete(chosen.bucket, chosen.object_name)
        result = PushResult("gcp", spec.name, created.self_link, details={
            "family": spec.family, "guest_os_features": list(spec.features), "archive_bytes": uploaded.size,
            "resumed_from": uploaded.resumed_from,
            "object": None if not options.keep_upload else f"gs://{chosen.bucket}/{chosen.object_name}"})
    state.record(SECTION, {"image": result.name, "self_link": result.image_id, "project": api.project,
                           "digest": artifact.digest}, options.record_in)
    return result
