"""Pushing a cached image (an index with its platform manifests, or one manifest) to a registry."""

from __future__ import annotations

from lkcloud.errors import ImageNotFoundError
from lkcloud.oci.api import Descriptor
from lkcloud.oci.layout import Layout
from lkcloud.oci.manifest import is_index, media_type_of, parse_index, parse_manifest
from lkcloud.oci.reference import Reference
from lkcloud.oci.registry import RegistryClient, RegistryOptions
from lkcloud.progress import Reporter


def _push_manifest(client: RegistryClient, repository: str, layout: Layout, desc: Descriptor, tag: str | None) -> None:
    data = layout.read_blob(desc.digest, what="manifest")
    kind = media_type_of(data, desc.media_type, desc.digest)
    manifest = parse_manifest(data, f"manifest {desc.digest}")
    for blob in (manifest.config, *manifest.layers):
        if not layout.has_blob(blob.digest, blob.size):
            raise ImageNotFoundError(f"blob {blob.digest} of manifest {desc.digest} is not in the cache")
        client.push_blob(repository, blob.digest, layout.blob_path(blob.digest))
    client.push_manifest(repository, tag or desc.digest, data, kind)


def push_image(
    layout: Layout, root: Descriptor, target: Reference, options: RegistryOptions, reporter: Reporter
) -> str:
    """Push the image rooted at ``root`` as ``target``; returns the root digest."""
    client = RegistryClient(target.registry, options)
    reporter.step(f"pushing {target}")
    data = layout.read_blob(root.digest, what="manifest")
    kind = media_type_of(data, root.media_type, str(target))
    tag = target.tag or root.digest
    if not is_index(kind):
        _push_manifest(client, target.path, layout, root, tag)
        return root.digest
    children = parse_index(data, str(target))
    missing = [str(c.platform) for c in children if not layout.has_blob(c.digest)]
    if missing:
        raise ImageNotFoundError(
            f"cannot push {target}: the cache lacks its platforms {', '.join(missing)}",
            hint="pull the image for every platform first, or push a single-platform image",
        )
    for child in children:
        _push_manifest(client, target.path, layout, child, None)
    client.push_manifest(target.path, tag, data, kind)
    return root.digest
