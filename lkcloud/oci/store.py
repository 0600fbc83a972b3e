"""The local image store: an OCI image layout on disk, compatible with LinuxKit's cache.

CONTRACT STUB: the OCI work fills this in; the signatures are what assembly and packaging use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from lkcloud.oci.api import ContainerConfig, Descriptor, LocalImage
from lkcloud.progress import NULL, Reporter


class ImageStore:
    """An OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``) at ``root``."""

    def __init__(self, root: Path, *, reporter: Reporter = NULL) -> None:
        self.root = root
        self.reporter = reporter

    def get(self, ref: str, *, arch: str = "amd64", pull: bool = False) -> LocalImage:
        """The image for ``ref`` and ``arch``: from the cache (verified) unless ``pull``; pulled
        from its registry when absent or incomplete. Raises ImageNotFoundError."""
        raise NotImplementedError

    def open_blob(self, digest: str) -> BinaryIO:
        """The raw bytes of a blob, verified against its digest as they are read."""
        raise NotImplementedError

    def open_layer(self, layer: Descriptor) -> BinaryIO:
        """A layer as an uncompressed tar stream (gzip, zstd or plain, detected by magic)."""
        raise NotImplementedError

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
        raise NotImplementedError
