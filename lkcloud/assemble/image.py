"""An image's merged file system as it goes into the root filesystem (LinuxKit's ``ImageTar``).

Every image drops ``.dockerenv``, ``Dockerfile``, ``dev/console``, ``dev/pts``, ``dev/shm`` and
``etc/hostname``; gets a fixed ``etc/hosts`` and ``etc/resolv.conf`` (a symlink to
``/run/resolvconf/resolv.conf`` for init images and volumes); and gains the directories and files
a container needs when they are missing. Every entry carries its image and YAML location.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from lkcloud.oci.api import ContainerConfig, Descriptor, LocalImage
from lkcloud.oci.limits import Limits
from lkcloud.oci.reference import parse
from lkcloud.oci.unpack import DIR, HARDLINK, REG, SYMLINK, Entry, Warn, merge_layers

RESOLVCONF_SYMLINK = "/run/resolvconf/resolv.conf"
EXCLUDE = frozenset({".dockerenv", "Dockerfile", "dev/console", "dev/pts", "dev/shm", "etc/hostname"})
HOSTS = (
    "127.0.0.1       localhost\n::1     localhost ip6-localhost ip6-loopback\nfe00::0 ip6-localnet\n"
    "ff00::0 ip6-mcastprefix\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n"
)
NO_RESOLV = "\n# no resolv.conf configured\n"
REPLACE = {"etc/hosts": HOSTS, "etc/resolv.conf": NO_RESOLV}
# Entries that must exist, in the order LinuxKit creates missing ones: (type, mode, link).
TOUCH: dict[str, tuple[bytes, int, str]] = {
    "dev": (DIR, 0o755, ""),
    "dev/pts": (DIR, 0o755, ""),
    "dev/shm": (DIR, 0o755, ""),
    "etc": (DIR, 0o755, ""),
    "etc/hosts": (REG, 0o644, ""),
    "etc/mtab": (SYMLINK, 0o755, "/proc/mounts"),
    "etc/resolv.conf": (REG, 0o644, ""),
    "proc": (DIR, 0o755, ""),
    "sys": (DIR, 0o755, ""),
}


def expand(ref: str) -> str:
    """A reference as LinuxKit records it (``util.ReferenceExpand``): domain and ``library/``
    added, no tag added (``alpine`` -> ``docker.io/library/alpine``)."""
    parsed = parse(ref)
    last = ref.rsplit("/", 1)[-1].split("@", 1)[0]
    text = parsed.name
    if parsed.tag and ":" in last:
        text += f":{parsed.tag}"
    if parsed.digest:
        text += f"@{parsed.digest}"
    return text


class ImageSource(Protocol):
    """Where assembly gets images: their config and their merged file system (within ``limits``)."""

    limits: Limits

    def config(self, ref: str) -> ContainerConfig: ...

    def entries(self, ref: str) -> list[Entry]: ...


class _Store(Protocol):
    def get(self, ref: str, *, arch: str = ..., pull: bool = ...) -> LocalImage: ...

    def open_layer(self, layer: Descriptor) -> BinaryIO: ...


@dataclass
class StoreImages:
    """:class:`ImageSource` over an :class:`~lkcloud.oci.store.ImageStore`; remembers digests."""

    store: _Store
    arch: str = "amd64"
    pull: bool = False
    warn: Warn | None = None
    limits: Limits = field(default_factory=Limits.from_settings)
    digests: dict[str, str] = field(default_factory=dict)
    _images: dict[str, LocalImage] = field(default_factory=dict)

    def image(self, ref: str) -> LocalImage:
        if ref not in self._images:
            self._images[ref] = self.store.get(ref, arch=self.arch, pull=self.pull)
            self.digests[ref] = self._images[ref].manifest_digest
        return self._images[ref]

    def config(self, ref: str) -> ContainerConfig:
        return self.image(ref).config

    def entries(self, ref: str) -> list[Entry]:
        image = self.image(ref)
        openers: list[Callable[[], contextlib.AbstractContextManager[BinaryIO]]] = [
            (lambda layer=layer: contextlib.closing(self.store.open_layer(layer)))  # type: ignore[misc]
            for layer in image.layers
        ]
        if self.warn is None:
            return merge_layers(openers, ref, limits=self.limits)
        return merge_layers(openers, ref, self.warn, limits=self.limits)


def prefix_dirs(prefix: str, source: str, location: str, mtime: int) -> Iterator[Entry]:
    """The directories leading to ``prefix`` (``a/b/`` -> ``a``, ``a/b``), LinuxKit's tarPrefix."""
    parts = [p for p in prefix.strip("/").split("/") if p]
    for i in range(len(parts)):
        yield Entry("/".join(parts[: i + 1]), DIR, 0o755, mtime=mtime, source=source, location=location)


def image_tar(entries: Iterable[Entry], *, source: str, location: str, prefix: str, resolv: str,
              mtime: int) -> Iterator[Entry]:
    """An image's entries under ``prefix`` with LinuxKit's drop/replace/touch rules applied."""
    yield from prefix_dirs(prefix, source, location, mtime)
    found: set[str] = set()
    tag = {"source": source, "location": location}
    for entry in entries:
        name = entry.name
        if name in EXCLUDE and entry.type != DIR:
            continue
        if name in REPLACE:
            yield _replaced(entry, name, prefix, resolv, mtime=mtime, tag=tag)
            continue
        changes: dict[str, object] = dict(tag)
        if name in TOUCH:
            found.add(name)
            changes["mtime"] = mtime
        if entry.type == HARDLINK:
            changes["linkname"] = prefix + entry.linkname
        yield entry.renamed(prefix + name, **changes)
    for name, (kind, mode, link) in TOUCH.items():
        if name in found:
            continue
        entry = Entry(prefix + name, kind, mode, mtime=mtime, linkname=link, source=source, location=location)
        if name in REPLACE:
            entry = _replaced(entry, name, prefix, resolv, mtime=mtime, tag=tag)
        yield entry


def _replaced(entry: Entry, name: str, prefix: str, resolv: str, *, mtime: int, tag: dict[str, str]) -> Entry:
    target = prefix + name
    if name == "etc/resolv.conf" and resolv:
        return entry.renamed(target, type=SYMLINK, linkname=resolv, data=b"", mtime=mtime, **tag)
    return entry.renamed(target, type=REG, linkname="", data=REPLACE[name].encode(), mtime=mtime, **tag)
