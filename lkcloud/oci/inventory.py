"""What the cache holds: tagged images, the blobs they reach, and what can be pruned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lkcloud.oci import media
from lkcloud.oci.api import Descriptor
from lkcloud.oci.layout import Layout, ref_name
from lkcloud.oci.manifest import is_index, media_type_of, parse_config, parse_index, parse_manifest


@dataclass(frozen=True)
class CachedImage:
    """One tagged image of the cache, for ``lkcloud cache ls``."""

    reference: str
    digest: str
    media_type: str
    platforms: tuple[str, ...]  # platforms whose manifest is present
    size: int  # bytes of the blobs present that it reaches


def _children(layout: Layout, desc: Descriptor) -> list[Descriptor]:
    if desc.media_type not in media.INDEX_TYPES | media.MANIFEST_TYPES and desc.media_type:
        return []
    data = layout.blob_path(desc.digest).read_bytes()
    kind = media_type_of(data, desc.media_type, desc.digest)
    if is_index(kind):
        return parse_index(data, desc.digest)
    manifest = parse_manifest(data, desc.digest)
    return [manifest.config, *manifest.layers]


def referenced(layout: Layout, roots: Sequence[Descriptor]) -> set[str]:
    """Every blob digest reachable from ``roots`` that is present in the layout."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        desc = pending.pop()
        if desc.digest in seen or not layout.has_blob(desc.digest):
            continue
        seen.add(desc.digest)
        pending.extend(_children(layout, desc))
    return seen


def unreferenced(layout: Layout) -> list[str]:
    """Blobs no entry of ``index.json`` reaches and no lease holds (safe to delete under the lock)."""
    keep = referenced(layout, layout.entries()) | layout.leased()
    return [d for d in layout.blobs() if d not in keep]


def _platforms(layout: Layout, root: Descriptor) -> tuple[str, ...]:
    if not layout.has_blob(root.digest):
        return ()
    data = layout.blob_path(root.digest).read_bytes()
    if not is_index(media_type_of(data, root.media_type, root.digest)):
        config = parse_manifest(data, root.digest).config
        if not layout.has_blob(config.digest):
            return ()
        _, platform, _ = parse_config(layout.blob_path(config.digest).read_bytes(), config.digest)
        return (str(platform),)
    entries = parse_index(data, root.digest)
    return tuple(sorted(str(e.platform) for e in entries if e.platform and layout.has_blob(e.digest)))


def cached_images(layout: Layout) -> list[CachedImage]:
    """The tagged images, sorted by reference."""
    out = []
    for entry in layout.entries():
        name = ref_name(entry)
        if not name:
            continue
        size = sum(layout.blob_path(d).stat().st_size for d in referenced(layout, [entry]))
        out.append(CachedImage(name, entry.digest, entry.media_type, _platforms(layout, entry), size))
    return sorted(out, key=lambda image: image.reference)
