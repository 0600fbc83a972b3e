"""The root filesystem stream: entries written to one PAX tar, with their LinuxKit PAX records.

The tar is the canonical intermediate, as in LinuxKit: the ``tar`` and ``docker`` formats are
it, and the initrd is derived from it. The sink remembers where each member's data lies so the
initrd can be written from the tar without parsing it again. Every header field is lkcloud's own:
of the records an image brought, only extended attributes are written back.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO

from lkcloud.oci.unpack import DIR, Entry
from lkcloud.reproducible import source_date_epoch

PAX_SOURCE = "LINUXKIT.source"
PAX_LOCATION = "LINUXKIT.location"


def generated_mtime() -> int:
    """The mtime of entries lkcloud generates: ``SOURCE_DATE_EPOCH`` when set, else LinuxKit's."""
    return source_date_epoch()


def tarinfo(entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.type = entry.type
    info.mode = entry.mode
    info.uid, info.gid = entry.uid, entry.gid
    info.uname, info.gname = entry.uname, entry.gname
    info.mtime = entry.mtime
    info.linkname = entry.linkname
    info.devmajor, info.devminor = entry.devmajor, entry.devminor
    info.size = entry.size if entry.type == tarfile.REGTYPE else 0
    pax = dict(entry.pax)
    if entry.source:
        pax[PAX_SOURCE] = entry.source
    if entry.location:
        pax[PAX_LOCATION] = entry.location
    info.pax_headers = pax
    return info


class TarSink:
    """Writes entries, in order, to a PAX tar; ``members`` records each with its data offset."""

    def __init__(self, fileobj: BinaryIO) -> None:
        # The sink owns the TarFile until close(); the caller owns fileobj.
        self._tar = tarfile.open(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8")  # noqa: SIM115
        self.members: list[tarfile.TarInfo] = []

    def add(self, entry: Entry) -> None:
        info = tarinfo(entry)
        if info.size:
            with entry.open() as data:
                self._tar.addfile(info, data)
        else:
            self._tar.addfile(info)
        blocks = -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
        info.offset_data = self._tar.offset - blocks
        if entry.type == DIR:  # tarfile stored it with a trailing slash; the index keeps the name
            info.name = entry.name
        self.members.append(info)

    def close(self) -> None:
        self._tar.close()
