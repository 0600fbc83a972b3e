"""Moving images in and out of the cache as archives.

- ``oci``: a tar of an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``) with
  the chosen images, named by the ``org.opencontainers.image.ref.name`` annotation.
- ``docker``: the same plus ``manifest.json`` and ``repositories``, as ``docker save`` writes
  since Docker 25, so ``docker load`` takes it.

Import reads either kind, and older ``docker save`` archives (``manifest.json`` with
``<id>/layer.tar`` members). Archives are written reproducibly (sorted, mtime 0, owner 0).
"""

from __future__ import annotations

import contextlib
import enum
import io
import json
import logging
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO

from lkcloud.errors import UsageError
from lkcloud.fsutil import atomic_output
from lkcloud.oci import media
from lkcloud.oci.api import Descriptor, LocalImage
from lkcloud.oci.inventory import referenced
from lkcloud.oci.layout import LAYOUT_VERSION, Layout, descriptor_from, descriptor_to, dump_json, load_json
from lkcloud.oci.manifest import parse_config
from lkcloud.oci.reference import DOCKER_HUB, parse
from lkcloud.oci.store import ImageStore

log = logging.getLogger(__name__)


class ArchiveFormat(enum.StrEnum):
    OCI = "oci"
    DOCKER = "docker"


def familiar(name: str) -> str:
    """Docker's short spelling: ``docker.io/library/redis:7`` -> ``redis:7``."""
    ref = parse(name)
    if ref.domain != DOCKER_HUB:
        return str(ref)
    path = ref.path.removeprefix("library/")
    return f"{path}:{ref.tag}" if ref.tag else path


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, path: Path | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if data is None and path is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.mode = 0o644
    if path is not None:
        info.size = path.stat().st_size
        with path.open("rb") as fh:
            tar.addfile(info, fh)
    else:
        assert data is not None
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _docker_manifest(store: ImageStore, images: Sequence[LocalImage]) -> bytes:
    entries = []
    for image in images:
        tags = [familiar(image.reference)] if parse(image.reference).tag else []
        entries.append({
            "Config": f"blobs/sha256/{image.config_digest[7:]}",
            "RepoTags": tags,
            "Layers": [f"blobs/sha256/{layer.digest[7:]}" for layer in image.layers],
        })
    return json.dumps(entries).encode()


def export(
    store: ImageStore, refs: Sequence[str], out: Path | BinaryIO, *, fmt: ArchiveFormat = ArchiveFormat.OCI,
    arch: str = "amd64",
) -> list[str]:
    """Write the cached images ``refs`` (normalised) to the archive ``out`` (a file, written
    atomically, or a stream such as standard output); returns their names."""
    names = [str(parse(ref)) for ref in refs]
    images = [store.local(name, arch=arch) for name in names]  # verified, complete for ``arch``
    entries = [e for name in names for e in [store.layout.find(name)] if e is not None]
    if isinstance(out, Path):
        with atomic_output(out) as fh:
            _write_archive(fh, store, entries, images, fmt)
    else:
        _write_archive(out, store, entries, images, fmt)
        out.flush()
    return names


def _write_archive(fh: BinaryIO, store: ImageStore, entries: Sequence[Descriptor], images: Sequence[LocalImage],
                   fmt: ArchiveFormat) -> None:
    blobs = sorted(referenced(store.layout, entries))
    index = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [descriptor_to(e) for e in entries]}
    # Stream mode: the same bytes to a file or a pipe (no seeking).
    with tarfile.open(fileobj=fh, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "blobs/")
        _add(tar, "blobs/sha256/")
        for digest in blobs:
            _add(tar, f"blobs/sha256/{digest[7:]}", path=store.layout.blob_path(digest))
        _add(tar, "index.json", json.dumps(index, indent=2).encode())
        if fmt is ArchiveFormat.DOCKER:
            _add(tar, "manifest.json", _docker_manifest(store, images))
        _add(tar, "oci-layout", dump_json(LAYOUT_VERSION))


# --- import -------------------------------------------------------------------------------------
class _Archive:
    def __init__(self, tar: tarfile.TarFile, source: Path) -> None:
        self.tar = tar
        self.source = source
        self.members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}

    def open(self, name: str) -> IO[bytes]:
        member = self.members.get(name.removeprefix("./"))
        handle = self.tar.extractfile(member) if member else None
        if handle is None:
            raise UsageError(f"{self.source}: the archive lacks {name}")
        return handle

    def read(self, name: str) -> bytes:
        with self.open(name) as handle:
            return handle.read()

    def chunks(self, name: str) -> Iterator[bytes]:
        with self.open(name) as handle:
            while chunk := handle.read(media.CHUNK):
                yield chunk


def _image_name(entry: Descriptor, override: str | None) -> str | None:
    notes = dict(entry.annotations)
    name = override or notes.get(media.CONTAINERD_NAME) or notes.get(media.REF_NAME)
    # A bare tag ("latest", as Docker writes ref.name) names no repository.
    if not name or not any(c in name for c in "/:@"):
        return None
    return str(parse(name))


def _import_layout(layout: Layout, archive: _Archive, ref: str | None) -> list[str]:
    index = load_json(archive.read("index.json"), f"{archive.source}: index.json")
    entries = [descriptor_from(item) for item in index.get("manifests") or []]
    if ref and len(entries) != 1:
        raise UsageError(f"{archive.source}: --ref needs an archive with one image, it has {len(entries)}")
    named = [(_image_name(entry, ref), entry) for entry in entries]
    for name, entry in named:
        if name is None:
            raise UsageError(f"{archive.source}: image {entry.digest} has no repository name",
                             hint="name it with --ref")
    for member in sorted(n for n in archive.members if n.startswith("blobs/sha256/")):
        digest = "sha256:" + member.rsplit("/", 1)[1]
        if not layout.has_blob(digest, archive.members[member].size):
            layout.write_blob_stream(archive.chunks(member), media.check_digest(digest), archive.members[member].size)
    names = []
    for name, entry in named:
        assert name is not None
        layout.tag(name, entry)
        names.append(name)
    return names


def _import_docker(layout: Layout, archive: _Archive, ref: str | None) -> list[str]:
    entries: Any = json.loads(archive.read("manifest.json"))
    if ref and len(entries) != 1:
        raise UsageError(f"{archive.source}: --ref needs an archive with one image, it has {len(entries)}")
    names = []
    for entry in entries:
        config_bytes = archive.read(entry["Config"])
        _, platform, _ = parse_config(config_bytes, f"{archive.source}: {entry['Config']}")
        layers = []
        for path in entry["Layers"]:
            with archive.open(path) as handle:
                kind = media.compression_of(handle.read(4))
            digest, size = layout.write_blob_stream(archive.chunks(path))
            layers.append({"mediaType": media.LAYER_TYPE_BY_COMPRESSION[kind], "digest": digest, "size": size})
        config = {"mediaType": media.OCI_CONFIG, "digest": layout.write_blob(config_bytes), "size": len(config_bytes)}
        manifest = dump_json({"schemaVersion": 2, "mediaType": media.OCI_MANIFEST, "config": config, "layers": layers})
        desc = Descriptor(media.OCI_MANIFEST, layout.write_blob(manifest), len(manifest), (), platform)
        for name in [ref] if ref else entry.get("RepoTags") or []:
            layout.tag(str(parse(name)), desc)
            names.append(str(parse(name)))
    return names


_GZIP, _ZSTD, _BZIP2, _XZ = b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"BZh", b"\xfd7zXZ\x00"
NOT_AN_ARCHIVE = "not an OCI or docker archive (a tar, as 'docker save' or 'lkcloud cache export' write, maybe gzipped)"


def _open_tar(fh: BinaryIO, name: str) -> tarfile.TarFile:
    """The archive as a tar; one UsageError line when it is not one (the decoders' details at debug)."""
    head = fh.read(512)
    fh.seek(0)
    compressed = head.startswith((_GZIP, _BZIP2, _XZ))
    if not compressed and not (len(head) == 512 and head[257:262] == b"ustar"):
        raise UsageError(f"{name}: {NOT_AN_ARCHIVE}")
    try:
        return tarfile.open(fileobj=fh, mode="r:*")
    except (OSError, EOFError, tarfile.TarError) as exc:
        log.debug("%s: %s", name, exc)
        raise UsageError(f"{name}: {NOT_AN_ARCHIVE}") from exc


def import_archive(store: ImageStore, source: Path | BinaryIO, *, ref: str | None = None,
                   name: str | None = None) -> list[str]:
    """Load an OCI or docker archive (a file, or a seekable stream named ``name``) into the
    cache; returns the names tagged."""
    label = name or str(source if isinstance(source, Path) else "<stdin>")
    if isinstance(source, Path):
        try:
            fh: BinaryIO = source.open("rb")
        except OSError as exc:
            raise UsageError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    else:
        fh = source
    owned = contextlib.closing(fh) if isinstance(source, Path) else contextlib.nullcontext(fh)
    with owned, _open_tar(fh, label) as tar:
        try:
            return _import_tar(store, _Archive(tar, Path(label)), ref)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            log.debug("%s: %s", label, exc)
            raise UsageError(f"{label}: the archive is damaged or cut short") from exc
        except (ValueError, KeyError, TypeError) as exc:
            log.debug("%s: %r", label, exc)
            raise UsageError(f"{label}: its manifest.json or index.json is not what docker save or an"
                             " OCI layout writes") from exc


def _import_tar(store: ImageStore, archive: _Archive, ref: str | None) -> list[str]:
    if "index.json" in archive.members and "oci-layout" in archive.members:
        try:
            return _import_layout(store.layout, archive, ref)
        except UsageError:
            if "manifest.json" not in archive.members:
                raise
    if "manifest.json" in archive.members:
        return _import_docker(store.layout, archive, ref)
    raise UsageError(f"{archive.source}: a tar, but neither an OCI layout archive nor a docker save archive")
