"""Safe layer unpacking: an image's layers flattened into one list of file-system entries.

Nothing is written to disk as a tree: the result is an entry model (names, metadata, contents),
so device nodes and foreign owners need no root, and "writing outside the target" becomes
"an entry whose name or link leaves the image": such entries are neutralised or dropped, with a
warning naming the image. Layers are merged the way ``go-containerregistry``'s ``mutate.Extract``
(used by LinuxKit) does: top layer first, an upper entry hides the same path below, a non-directory
hides everything below it, ``.wh.NAME`` deletes ``NAME``, ``.wh..wh..opq`` empties a directory of
the layers beneath.

Layers are hostile input. File data goes to a :class:`~lkcloud.oci.spool.Spool` (memory stays
bounded), every file and image is held to its :class:`~lkcloud.oci.limits.Limits`, data of hidden
entries is never kept, and of a member's PAX records only extended attributes survive: every other
header field is lkcloud's own, so a record such as ``GNU.sparse.name`` cannot rename a file for
the next reader of a ``tar`` output.
"""

from __future__ import annotations

import dataclasses
import logging
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from lkcloud.oci.limits import HEADER_SIZE, Budget, LimitError, Limits
from lkcloud.oci.spool import Data, Spool, open_data

log = logging.getLogger(__name__)

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

REG = tarfile.REGTYPE
DIR = tarfile.DIRTYPE
SYMLINK = tarfile.SYMTYPE
HARDLINK = tarfile.LNKTYPE
CHAR = tarfile.CHRTYPE
BLOCK = tarfile.BLKTYPE
FIFO = tarfile.FIFOTYPE
_KNOWN_TYPES = {REG, DIR, SYMLINK, HARDLINK, CHAR, BLOCK, FIFO}
# The PAX records kept from a layer: extended attributes. Everything else is derived again.
KEPT_PAX = ("SCHILY.xattr.", "LIBARCHIVE.xattr.")
_LONG_HEADERS = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
                 tarfile.GNUTYPE_LONGLINK}


@dataclass(frozen=True, slots=True)
class Entry:
    """One file-system entry of a root filesystem stream (a tar member, in memory)."""

    name: str  # relative, normalised, no trailing "/"
    type: bytes = REG
    mode: int = 0o644  # permission bits (incl. setuid/setgid/sticky), no file-type bits
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    data: Data = b""  # a regular file's content: bytes, or a range of a spool file
    uname: str = ""
    gname: str = ""
    pax: tuple[tuple[str, str], ...] = ()  # records kept from the source (xattrs...)
    source: str = ""  # PAX LINUXKIT.source: image reference, linuxkit.files, ...
    location: str = ""  # PAX LINUXKIT.location: onboot[2], files[0], ...

    def renamed(self, name: str, **changes: object) -> Entry:
        return dataclasses.replace(self, name=name, **changes)  # type: ignore[arg-type]

    @property
    def size(self) -> int:
        return len(self.data)

    def open(self) -> BinaryIO:
        """A reader of the file's content."""
        return open_data(self.data)


Warn = Callable[[str], None]


def _default_warn(message: str) -> None:
    log.warning("%s", message)


def clean_name(raw: str) -> str | None:
    """A tar member name as a relative, normalised path; None for the root itself or for a path
    that climbs out of the root (``..``)."""
    if _climbs(raw):
        return None
    name = posixpath.normpath("/" + raw).lstrip("/")
    return None if name in ("", ".") else name


def _climbs(raw: str) -> bool:
    depth = 0
    for part in raw.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _entry(member: tarfile.TarInfo, name: str) -> Entry:
    """The entry of ``member``: only the fields its type has, only extended attributes of its PAX records."""
    pax = tuple(sorted((k, v) for k, v in member.pax_headers.items() if k.startswith(KEPT_PAX)))
    link = member.type in (SYMLINK, HARDLINK)
    device = member.type in (CHAR, BLOCK)
    return Entry(
        name=name, type=member.type, mode=member.mode & 0o7777, uid=member.uid, gid=member.gid,
        mtime=int(member.mtime), linkname=member.linkname if link else "",
        devmajor=member.devmajor if device else 0, devminor=member.devminor if device else 0,
        uname=member.uname, gname=member.gname, pax=pax,
    )


class _HeaderTooLarge(Exception):
    pass


class _BoundedInfo(tarfile.TarInfo):
    """A TarInfo that refuses PAX and GNU long-name headers over HEADER_SIZE (tarfile reads them whole)."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _LONG_HEADERS and self.size > HEADER_SIZE:
            raise _HeaderTooLarge(f"a layer has a {self.size}-byte extended header (at most {HEADER_SIZE} are read)")
        member: tarfile.TarInfo = super()._proc_member(tar)  # type: ignore[misc]
        return member


Wanted = Callable[[Entry], bool]


def read_tar(stream: BinaryIO, source: str, warn: Warn = _default_warn, *, spool: Spool | None = None,
             budget: Budget | None = None, wanted: Wanted | None = None) -> Iterator[tuple[str, Entry]]:
    """The members of one tar stream as ``(raw name, Entry)``, names cleaned; members whose name
    leaves the root are dropped, absolute names made relative, unknown types skipped. A regular
    file's data is read into ``spool`` only when ``wanted`` (default: always) says so; every
    member counts against ``budget``."""
    try:
        yield from _read(stream, source, warn, spool=spool if spool is not None else Spool(),
                         budget=budget if budget is not None else Budget(Limits(), source), wanted=wanted)
    except _HeaderTooLarge as exc:
        raise LimitError(f"{source}: {exc}", hint="a layer's headers are small; this one is not") from None


def _read(stream: BinaryIO, source: str, warn: Warn, *, spool: Spool, budget: Budget,
          wanted: Wanted | None) -> Iterator[tuple[str, Entry]]:
    with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedInfo) as tar:
        for member in tar:
            raw = member.name
            budget.member(raw, member.size if member.isreg() else 0)
            name = clean_name(raw)
            if name is None:
                if _climbs(raw):
                    warn(f"{source}: refusing {raw!r}: it leaves the root")
                continue
            if raw.startswith("/"):
                warn(f"{source}: absolute name {raw!r} stored as {name!r}")
            if member.type not in _KNOWN_TYPES:
                if member.type in (tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE, tarfile.AREGTYPE):
                    member.type = REG
                else:
                    warn(f"{source}: skipping {raw!r}: unsupported tar entry type {member.type!r}")
                    continue
            if member.type == HARDLINK:
                target = clean_name(member.linkname)
                if target is None:
                    warn(f"{source}: refusing hard link {raw!r} -> {member.linkname!r}: it leaves the root")
                    continue
                member.linkname = target
            entry = _entry(member, name)
            if member.type == REG and member.size and (wanted is None or wanted(entry)):
                handle = tar.extractfile(member)
                assert handle is not None
                entry = dataclasses.replace(entry, data=spool.take(handle, member.size, f"{source}: {raw!r}"))
            yield raw, entry


def _hidden(name: str, covered: dict[str, bool], opaque: set[str]) -> bool:
    """Whether a lower-layer entry is hidden by what the layers above recorded."""
    parent = posixpath.dirname(name)
    while parent:
        if covered.get(parent) or parent in opaque:
            return True
        parent = posixpath.dirname(parent)
    return False


LayerOpener = Callable[[], AbstractContextManager[BinaryIO]]


def merge_layers(layers: Sequence[LayerOpener], source: str, warn: Warn = _default_warn, *,
                 limits: Limits | None = None, spool: Spool | None = None) -> list[Entry]:
    """Flatten ``layers`` (bottom first) into the entries of the merged file system, top layer's
    entries first (the order ``mutate.Extract`` streams them in)."""
    covered: dict[str, bool] = {}  # path -> hides what is below it (whiteout or non-directory)
    opaque: set[str] = set()
    merged: list[Entry] = []
    budget = Budget(limits or Limits(), source)
    spool = spool if spool is not None else Spool()

    def visible(entry: Entry) -> tuple[bool, str]:
        base = posixpath.basename(entry.name)
        tombstone = base.startswith(WHITEOUT)
        name = posixpath.join(posixpath.dirname(entry.name), base[len(WHITEOUT):]) if tombstone else entry.name
        return not (name in covered or _hidden(name, covered, opaque)), name

    def wanted(entry: Entry) -> bool:
        return not posixpath.basename(entry.name).startswith(WHITEOUT) and visible(entry)[0]

    for opener in reversed(layers):
        layer_opaque: set[str] = set()
        with opener() as stream:
            for _raw, entry in read_tar(stream, source, warn, spool=spool, budget=budget, wanted=wanted):
                base = posixpath.basename(entry.name)
                if base == OPAQUE:
                    layer_opaque.add(posixpath.dirname(entry.name))
                    continue
                shown, name = visible(entry)
                if not shown:
                    continue
                tombstone = base.startswith(WHITEOUT)
                covered[name] = tombstone or entry.type != DIR
                if not tombstone:
                    merged.append(entry)
        opaque |= layer_opaque
    return sanitise(merged, source, warn)


def sanitise(entries: Iterable[Entry], source: str, warn: Warn = _default_warn) -> list[Entry]:
    """Drop entries that would land outside the image when unpacked: a path through a symlink
    (``a -> /etc`` then ``a/passwd``), a hard link through one, or to nothing regular."""
    entries = list(entries)
    symlinks = {e.name for e in entries if e.type == SYMLINK}
    regular = {e.name for e in entries if e.type == REG}
    kept: list[Entry] = []
    for entry in entries:
        through = _through_symlink(entry.name, symlinks)
        if through:
            warn(f"{source}: dropping {entry.name!r}: its parent {through!r} is a symlink")
            continue
        if entry.type == HARDLINK and (entry.linkname not in regular or _through_symlink(entry.linkname, symlinks)):
            warn(f"{source}: dropping hard link {entry.name!r} -> {entry.linkname!r}: "
                 "the target is not a regular file of the image")
            continue
        kept.append(entry)
    return kept


def _through_symlink(name: str, symlinks: set[str]) -> str | None:
    if not symlinks:
        return None
    parent = posixpath.dirname(name.strip("/"))
    while parent:
        if parent in symlinks:
            return parent
        parent = posixpath.dirname(parent)
    return None
