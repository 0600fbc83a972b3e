"""The local image store: an OCI image layout on disk, compatible with LinuxKit's cache.

``get`` is offline-first: an image whose manifest, config and layers are all in the cache (and
match their digests) is used as is; otherwise, or with ``pull=True``, it is pulled from its
registry. A damaged blob is removed and fetched again; when the registry is out of reach that
is a clear error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lkcloud.errors import DigestMismatchError, ImageNotFoundError, RegistryError
from lkcloud.oci import media
from lkcloud.oci.api import ContainerConfig, Descriptor, LocalImage
from lkcloud.oci.layout import Layout, ref_name
from lkcloud.oci.manifest import (
    PlatformMissingError,
    check_platform,
    is_index,
    media_type_of,
    parse_config,
    parse_index,
    parse_manifest,
    select,
)
from lkcloud.oci.reference import Reference, parse
from lkcloud.oci.write import write_image
from lkcloud.progress import NULL, Reporter

if TYPE_CHECKING:
    from lkcloud.oci.registry import RegistryOptions

log = logging.getLogger(__name__)


class ImageStore:
    """An OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``) at ``root``."""

    def __init__(self, root: Path, *, reporter: Reporter = NULL, registry: RegistryOptions | None = None) -> None:
        self.root = root
        self.reporter = reporter
        self.layout = Layout(root)
        self._registry = registry
        self._checked: set[tuple[str, int, int, int]] = set()

    @property
    def registry_options(self) -> RegistryOptions:
        if self._registry is None:
            from lkcloud.oci.registry import RegistryOptions

            self._registry = RegistryOptions.from_settings()
        return self._registry

    # --- reading -----------------------------------------------------------------------------
    def get(self, ref: str, *, arch: str = "amd64", pull: bool = False) -> LocalImage:
        """The image for ``ref`` and ``arch``: from the cache (verified) unless ``pull``; pulled
        from its registry when absent or incomplete. Raises ImageNotFoundError."""
        reference = parse(ref)
        damaged: DigestMismatchError | None = None
        if not pull:
            try:
                return self.local(ref, arch=arch)
            except PlatformMissingError:
                raise  # complete in the cache, for other architectures: --pull asks the registry again
            except ImageNotFoundError as exc:
                log.debug("%s not complete in the cache: %s", reference, exc)
            except DigestMismatchError as exc:
                damaged = exc
        from lkcloud.oci.pull import pull_image

        try:
            root = pull_image(self.layout, reference, arch, self.registry_options, self.reporter)
        except RegistryError as exc:
            if damaged is None:
                raise
            raise DigestMismatchError(
                f"cached {reference} is damaged ({damaged.message}) and its registry is out of reach: {exc.message}",
                hint=f"run 'lkcloud cache pull {reference}' when the registry is reachable",
            ) from exc
        return self._resolve(reference, root, arch, verified=True)

    def local(self, ref: str, *, arch: str = "amd64") -> LocalImage:
        """The image from the cache alone (verified); ImageNotFoundError when absent or incomplete,
        DigestMismatchError when a blob is damaged (the damaged blob is removed)."""
        reference = parse(ref)
        root = self._root(reference)
        if root is None:
            raise ImageNotFoundError(f"{reference} is not in the cache at {self.root}")
        return self._resolve(reference, root, arch)

    def _root(self, reference: Reference) -> Descriptor | None:
        entry = self.layout.find(str(reference))
        if entry is None and reference.tag == "latest" and not reference.digest:
            entry = self.layout.find(reference.name)  # LinuxKit keeps untagged names as written
        if entry is None and reference.digest:
            # LinuxKit may have stored the image under another tag; the digest pins the content.
            entry = next((e for e in self.layout.entries() if e.digest == reference.digest), None)
        return entry

    def _small_blob(self, digest: str, what: str) -> bytes:
        try:
            return self.layout.read_blob(digest, what=what)
        except DigestMismatchError:
            self.layout.remove_blob(digest)
            raise

    def _resolve(self, reference: Reference, root: Descriptor, arch: str, *, verified: bool = False) -> LocalImage:
        """The image ``root`` names; ``verified`` when its layers were just checked (pulled)."""
        name = str(reference)
        data = self._small_blob(root.digest, f"manifest of {name}")
        kind = media_type_of(data, root.media_type, name)
        index_digest = None
        chosen = root
        if is_index(kind):
            index_digest = root.digest
            chosen = select(parse_index(data, name), arch, None, name)
            data = self._small_blob(chosen.digest, f"{arch} manifest of {name}")
            kind = media_type_of(data, chosen.media_type, name)
        manifest = parse_manifest(data, f"manifest of {name}")
        config_bytes = self._small_blob(manifest.config.digest, f"config of {name}")
        config, platform, _ = parse_config(config_bytes, f"config of {name}")
        if index_digest is None:
            check_platform(platform, arch, name)
        for layer in manifest.layers:
            self._check_layer(layer, name, trust=verified)
        return LocalImage(
            reference=name,
            manifest_digest=chosen.digest,
            manifest_media_type=kind,
            config_digest=manifest.config.digest,
            config=config,
            layers=manifest.layers,
            platform=platform,
            index_digest=index_digest,
        )

    def _check_layer(self, layer: Descriptor, name: str, *, trust: bool = False) -> None:
        path = self.layout.blob_path(layer.digest)
        try:
            st = path.stat()
        except FileNotFoundError as exc:
            raise ImageNotFoundError(f"layer {layer.digest} of {name} is not in the cache") from exc
        key = (layer.digest, st.st_size, st.st_mtime_ns, st.st_ino)
        if trust and st.st_size == layer.size:
            self._checked.add(key)
        if key in self._checked:
            return
        try:
            with self.layout.open_blob(layer.digest, layer.size, what=f"layer of {name}") as stream:
                while stream.read(media.CHUNK):
                    pass
        except DigestMismatchError:
            self.layout.remove_blob(layer.digest)
            raise
        self._checked.add(key)

    def open_blob(self, digest: str) -> BinaryIO:
        """The raw bytes of a blob, verified against its digest as they are read."""
        return self.layout.open_blob(digest)

    def open_layer(self, layer: Descriptor) -> BinaryIO:
        """A layer as an uncompressed tar stream (gzip, zstd or plain, detected by magic)."""
        return media.decompressed(self.layout.open_blob(layer.digest, layer.size, what="layer"))

    def read_blob(self, digest: str) -> bytes:
        """A small blob (manifest, config) whole, verified."""
        return self.layout.read_blob(digest)

    def images(self) -> list[Descriptor]:
        """The tagged entries of the cache's ``index.json``."""
        return [e for e in self.layout.entries() if ref_name(e)]

    # --- writing -----------------------------------------------------------------------------
    def put_image(
        self,
        ref: str,
        *,
        config: ContainerConfig,
        layers: Sequence[Path],
        arch: str = "amd64",
        created: str = "1970-01-01T00:00:00Z",
    ) -> LocalImage:
        """Store an image made locally (``lkcloud pkg build``): ``layers`` are uncompressed tar
        files, stored gzip-compressed reproducibly; the image is tagged ``ref``."""
        reference = parse(ref)
        index, _, _ = write_image(
            self.layout, str(reference), config=config, layers=layers, arch=arch, created=created
        )
        return self._resolve(reference, index, arch, verified=True)

    def remove(self, ref: str, *, prune: bool = True) -> bool:
        """Untag ``ref``; with ``prune``, delete blobs nothing tagged reaches. True if it was there."""
        from lkcloud.oci.inventory import unreferenced

        removed = self.layout.untag(str(parse(ref)))
        if prune:
            with self.layout.lock():
                for digest in unreferenced(self.layout):
                    self.layout.remove_blob(digest)
        return removed

    def push(self, ref: str, *, to: str | None = None) -> str:
        """Push the cached image ``ref`` (every platform present) to its registry, or to ``to``.
        Returns the pushed root digest."""
        from lkcloud.oci.push import push_image

        reference = parse(ref)
        root = self._root(reference)
        if root is None:
            raise ImageNotFoundError(f"{reference} is not in the cache at {self.root}")
        target = parse(to) if to else reference
        return push_image(self.layout, root, target, self.registry_options, self.reporter)
