"""Storing images made locally: reproducible gzip layers, config, manifest, and a per-ref index."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from lkcloud.errors import BuildError
from lkcloud.oci import media
from lkcloud.oci.api import ContainerConfig, Descriptor, Platform
from lkcloud.oci.layout import Layout, dump_json
from lkcloud.oci.manifest import config_document, is_index, media_type_of, oci_arch, parse_index

GZIP_LEVEL = 6


class _Sink(io.RawIOBase):
    """Collects what gzip writes so it can be streamed into the layout chunk by chunk."""

    def __init__(self) -> None:
        self.pending: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.pending.append(bytes(data))
        return len(data)

    def take(self) -> Iterator[bytes]:
        chunks, self.pending = self.pending, []
        yield from chunks


def _gzip_chunks(tar: Path, diff: hashlib._Hash) -> Iterator[bytes]:
    """``tar`` gzip-compressed reproducibly (no name, mtime 0, fixed level); hashes the
    uncompressed bytes into ``diff`` on the way."""
    sink = _Sink()
    with tar.open("rb") as src:
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=sink, compresslevel=GZIP_LEVEL, mtime=0)
        while chunk := src.read(media.CHUNK):
            diff.update(chunk)
            gz.write(chunk)
            yield from sink.take()
        gz.close()
        yield from sink.take()


def store_layer(layout: Layout, tar: Path) -> tuple[Descriptor, str]:
    """Store one uncompressed tar as a gzip layer; returns its descriptor and diff_id."""
    if not tar.is_file():
        raise BuildError(f"layer {tar} is not a file")
    with tar.open("rb") as probe:
        if media.compression_of(probe.read(4)) != "none":
            raise BuildError(f"layer {tar} is compressed; put_image takes uncompressed tar files")
    diff = hashlib.sha256()
    digest, size = layout.write_blob_stream(_gzip_chunks(tar, diff))
    return Descriptor(media.OCI_LAYER_GZIP, digest, size), "sha256:" + diff.hexdigest()


def _existing_children(layout: Layout, name: str) -> list[Descriptor]:
    """The per-platform manifests an existing index for ``name`` holds, to keep other arches."""
    root = layout.find(name)
    if root is None or not layout.has_blob(root.digest):
        return []
    data = layout.blob_path(root.digest).read_bytes()
    if media.sha256(data) != root.digest or not is_index(media_type_of(data, root.media_type, name)):
        return []
    return parse_index(data, name)


def write_image(
    layout: Layout,
    name: str,
    *,
    config: ContainerConfig,
    layers: Sequence[Path],
    arch: str,
    created: str,
) -> tuple[Descriptor, Descriptor, Descriptor]:
    """Store the image and tag ``name`` with an OCI index holding it (replacing any image of
    the same platform). Returns the index, manifest and config descriptors."""
    platform = Platform("linux", oci_arch(arch))
    stored = [store_layer(layout, Path(tar)) for tar in layers]
    config_bytes = dump_json(config_document(config, platform, [d for _, d in stored], created))
    config_desc = Descriptor(media.OCI_CONFIG, layout.write_blob(config_bytes), len(config_bytes))
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": {"mediaType": config_desc.media_type, "digest": config_desc.digest, "size": config_desc.size},
        "layers": [{"mediaType": d.media_type, "digest": d.digest, "size": d.size} for d, _ in stored],
    }
    manifest_bytes = dump_json(manifest_doc)
    manifest_desc = Descriptor(media.OCI_MANIFEST, layout.write_blob(manifest_bytes), len(manifest_bytes), (), platform)
    with layout.lock():
        children = [c for c in _existing_children(layout, name) if c.platform != platform]
        children = sorted([*children, manifest_desc], key=lambda d: str(d.platform))
        index_bytes = dump_json(
            {
                "schemaVersion": 2,
                "mediaType": media.OCI_INDEX,
                "manifests": [_child_doc(c) for c in children],
            }
        )
        index_desc = Descriptor(media.OCI_INDEX, layout.write_blob(index_bytes), len(index_bytes))
        # Tagged in the same hold of the lock: a build of the name for another platform in between
        # would otherwise read the old index and drop this platform when it tags.
        layout.tag(name, index_desc)
    return index_desc, manifest_desc, config_desc


def _child_doc(desc: Descriptor) -> dict[str, object]:
    doc: dict[str, object] = {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}
    if desc.platform is not None:
        plat = {"architecture": desc.platform.architecture, "os": desc.platform.os}
        if desc.platform.variant:
            plat["variant"] = desc.platform.variant
        doc["platform"] = plat
    return doc
