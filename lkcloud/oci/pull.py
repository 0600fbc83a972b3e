"""Pulling an image into the layout: root manifest or index, the chosen platform's manifest,
config and layers, each checked against its digest before it is stored.

Blobs land first and manifests last, and the name is tagged only when everything is in: a
failed pull leaves the name untagged and no unverified byte in the cache. The blobs are leased
(lkcloud.oci.layout) until the tag is written, so a concurrent prune cannot take them.
"""

from __future__ import annotations

import logging

from lkcloud.errors import DigestMismatchError, ImageNotFoundError, RegistryError
from lkcloud.oci import media
from lkcloud.oci.api import Descriptor
from lkcloud.oci.layout import Layout
from lkcloud.oci.limits import DOCUMENT_SIZE, IMAGE_SIZE, LimitError, Limits, human
from lkcloud.oci.manifest import Manifest, is_index, media_type_of, parse_index, parse_manifest, select
from lkcloud.oci.reference import DOCKER_HUB, Reference
from lkcloud.oci.registry import Fetched, RegistryClient, RegistryOptions
from lkcloud.progress import Reporter

log = logging.getLogger(__name__)


def sources(reference: Reference, options: RegistryOptions) -> list[RegistryClient]:
    """Where to ask, in order: the docker.io mirrors (for Docker Hub images), then the registry."""
    mirrors = options.mirrors if reference.domain == DOCKER_HUB else ()
    clients = [RegistryClient(url.split("://", 1)[-1].split("/", 1)[0], options, base_url=url) for url in mirrors]
    return [*clients, RegistryClient(reference.registry, options)]


def _root_manifest(reference: Reference, options: RegistryOptions) -> tuple[RegistryClient, Fetched]:
    failure: RegistryError | ImageNotFoundError | None = None
    for client in sources(reference, options):
        try:
            return client, client.get_manifest(reference.path, reference.target)
        except (RegistryError, ImageNotFoundError) as exc:
            log.debug("%s: %s", client.base_url, exc)
            failure = exc
    assert failure is not None
    raise failure


def has_valid_blob(layout: Layout, desc: Descriptor) -> bool:
    """True if the layout holds ``desc`` intact; a damaged copy is removed."""
    if not layout.has_blob(desc.digest, desc.size):
        return False
    try:
        with layout.open_blob(desc.digest, desc.size) as stream:
            while stream.read(media.CHUNK):
                pass
    except DigestMismatchError:
        layout.remove_blob(desc.digest)
        return False
    return True


def _download(client: RegistryClient, repository: str, layout: Layout, desc: Descriptor, reporter: Reporter) -> None:
    if has_valid_blob(layout, desc):
        return
    for attempt in client.retrying():
        with attempt:
            task = reporter.task(f"{desc.digest[7:19]}", total=desc.size)
            try:
                with client.blob_chunks(repository, desc.digest) as chunks:
                    layout.write_blob_stream(chunks, desc.digest, desc.size, task.advance)
            finally:
                task.done()


def _manifest_bytes(client: RegistryClient, repository: str, layout: Layout, desc: Descriptor) -> bytes:
    if has_valid_blob(layout, desc):
        return layout.read_blob(desc.digest, what="manifest")
    fetched = client.get_manifest(repository, desc.digest)
    return fetched.data


def check_document(name: str, what: str, desc: Descriptor) -> None:
    """Refuse a manifest or config that declares more than 4 MiB, before it is fetched."""
    if desc.size > DOCUMENT_SIZE:
        raise LimitError(f"{name}: its {what} declares {human(desc.size)}; at most {human(DOCUMENT_SIZE)} is read",
                         hint="a manifest or config is a small JSON document")


def check_layers(name: str, manifest: Manifest, limits: Limits) -> None:
    """Refuse layers that declare more than the image limit, before any is downloaded."""
    total = sum(max(layer.size, 0) for layer in manifest.layers)
    if total > limits.image_size:
        raise LimitError(f"{name}: its layers declare {human(total)}, over the {human(limits.image_size)} limit "
                         "for one image", hint=f"if the image is trusted, raise {IMAGE_SIZE.env}")


def pull_image(
    layout: Layout, reference: Reference, arch: str, options: RegistryOptions, reporter: Reporter, *,
    limits: Limits | None = None,
) -> Descriptor:
    """Pull ``reference`` for ``arch`` into ``layout`` and tag it; returns the root descriptor.
    Its blobs are leased from before the first is checked until the tag is written."""
    name = str(reference)
    reporter.step(f"pulling {name} ({arch})")
    client, root = _root_manifest(reference, options)
    with layout.lease():
        manifests = [root.data]
        data, kind = root.data, root.media_type
        if is_index(kind):
            chosen = select(parse_index(data, name), arch, None, name)
            check_document(name, "manifest", chosen)
            layout.lease_add([chosen.digest])
            data = _manifest_bytes(client, reference.path, layout, chosen)
            kind = media_type_of(data, chosen.media_type, name)
            if is_index(kind):
                raise RegistryError(f"{name}: nested indexes are not supported")
            manifests.insert(0, data)
        manifest = parse_manifest(data, f"manifest of {name}")
        check_document(name, "config", manifest.config)
        check_layers(name, manifest, limits or Limits.from_settings())
        layout.lease_add(blob.digest for blob in (manifest.config, *manifest.layers))
        for blob in (manifest.config, *manifest.layers):
            _download(client, reference.path, layout, blob, reporter)
        for raw in manifests:
            layout.write_blob(raw)
        return layout.tag(name, Descriptor(root.media_type, root.digest, len(root.data)))
