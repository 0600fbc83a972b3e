"""syslinux's FAT install done in-process: no ``syslinux`` run (and no ``sync()``) per image.

``syslinux --install`` writes ``ldlinux.sys`` (its boot image plus a two-sector ADV) and
``ldlinux.c32`` as hidden, read-only system files, patches the boot image with the sectors it
landed on, and puts its code around the volume's BPB in the boot sector. The bytes it installs are
learnt once per syslinux binary, by a real install into a scratch volume, and kept in the user's
cache (verified by digest). Placing and patching them is then done here, following syslinux's
patch-area layout (``libinstaller/syslxint.h``):

- the patch area starts at the first dword equal to ``LDLINUX_MAGIC``: magic, instance,
  data_sectors (u16), adv_sectors (u16), dwords, checksum, maxtransfer (u16), epaoffset (u16);
- the extended patch area at ``epaoffset``: offsets of the ADV pointers, directory, subvolume,
  sector extents (and their count), and the boot sector's two halves of sector 1's LBA;
- extents are (lba u64, len u16) runs of the sectors after the first, a run never reaching
  64 KiB nor crossing a 64 KiB boundary of the load address (0x8000 upwards);
- the checksum makes the boot image's dwords sum to ``LDLINUX_MAGIC``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import struct
import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lkcloud.disk import fat, fatwriter
from lkcloud.disk.ids import SECTOR
from lkcloud.errors import BuildError
from lkcloud.process import run, which
from lkcloud.settings import user_cache_dir

LDLINUX_MAGIC = 0x3EB202FE
ADV_BYTES = 2 * SECTOR
LOAD_ADDRESS = 0x8000
SYSTEM_FILE = 0x27  # read-only, hidden, system, archive: what syslinux (through mtools) sets
HEAD = slice(0, 11)  # jump and OEM name: syslinux's
CODE = slice(90, 510)  # after the FAT32 BPB, up to the signature: syslinux's
_PATCH = struct.Struct("<IIHHIIHH")
_EXTENDED = struct.Struct("<10H")
_EXTENT = struct.Struct("<QH")
_DIRENT = struct.Struct("<11sB8xH4xHI")
LEARN_BYTES = 40 << 20


@dataclass(frozen=True)
class Template:
    """What ``syslinux --install`` writes, as learnt from one real install."""

    boot_sector: bytes  # 512 bytes; only HEAD and CODE are used
    ldlinux_sys: bytes  # boot image + ADV, as installed (re-patched for every placement)
    ldlinux_c32: bytes

    @property
    def sectors(self) -> int:
        return len(self.ldlinux_sys) // SECTOR


@functools.lru_cache(maxsize=4)
def template(syslinux: Path | None = None) -> Template:
    """The install of this machine's syslinux, from the cache or learnt now."""
    tool = syslinux or Path(which("syslinux"))
    with tool.open("rb") as fh:
        key = hashlib.file_digest(fh, "sha256").hexdigest()[:32]
    home = user_cache_dir() / "syslinux" / key
    found = _load(home)
    if found is None:
        found = learn(tool)
        _store(home, found)
    return found


_PARTS = ("boot_sector", "ldlinux_sys", "ldlinux_c32")


def _load(home: Path) -> Template | None:
    try:
        digests = json.loads((home / "digests.json").read_text())
        parts = {name: (home / name).read_bytes() for name in _PARTS}
    except (OSError, ValueError):
        return None
    if any(hashlib.sha256(data).hexdigest() != digests.get(name) for name, data in parts.items()):
        return None
    return Template(**parts)


def _store(home: Path, found: Template) -> None:
    """Write the cache entry beside its final place and rename it in. The cache only saves time:
    when it cannot be written (or another build got there first) the next build learns again."""
    parts = {name: getattr(found, name) for name in _PARTS}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in parts.items()}
    try:
        home.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=home.parent, prefix=f".{home.name}."))
    except OSError:
        return
    try:
        for name, data in parts.items():
            (scratch / name).write_bytes(data)
        (scratch / "digests.json").write_text(json.dumps(digests, indent=1))
        shutil.rmtree(home, ignore_errors=True)
        os.replace(scratch, home)
    except OSError:
        pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def learn(syslinux: Path) -> Template:
    """Run ``syslinux --install`` on a scratch FAT32 volume and read back what it wrote."""
    geo = fatwriter.geometry(LEARN_BYTES, fat.fat32_cluster_sectors(LEARN_BYTES), 0)
    layout = fatwriter.plan(geo, {})
    with tempfile.TemporaryDirectory(prefix="lkcloud-syslinux-") as tmp:
        image = Path(tmp) / "volume.img"
        with image.open("wb") as fh:
            fh.truncate(LEARN_BYTES)
            fatwriter.write_metadata(fh, 0, layout, serial=1, label="SYSLINUX", epoch=0)
        volume = fat.Volume(image, 0, LEARN_BYTES, 1, "SYSLINUX", 0)
        run([syslinux, "--install", image], env=volume.env)
        with image.open("rb") as fh:
            boot = fh.read(SECTOR)
            found = Template(boot, read_root_file(fh, geo, b"LDLINUX SYS"), read_root_file(fh, geo, b"LDLINUX C32"))
    if len(found.ldlinux_sys) % SECTOR or found.sectors < 3:
        raise BuildError(f"{syslinux} installed an ldlinux.sys of unexpected size {len(found.ldlinux_sys)}")
    _patch_area(found.ldlinux_sys)  # fails early on a layout we do not know
    return found


def read_root_file(fh: BinaryIO, geo: fatwriter.Geometry, short: bytes) -> bytes:
    """A file of the volume's root directory (cluster 2), by its 8.3 name, following its chain."""
    fh.seek(geo.reserved * SECTOR)
    table = array("I", fh.read(geo.fat_sectors * SECTOR))
    chain = _chain(table, 2)
    fh.seek(geo.offset(2))
    directory = b"".join(_cluster(fh, geo, c) for c in chain)
    for at in range(0, len(directory), fatwriter.ENTRY):
        name, attr, high, low, size = _DIRENT.unpack_from(directory, at)
        if name == short and attr != fatwriter.ATTR_LFN:
            data = b"".join(_cluster(fh, geo, c) for c in _chain(table, high << 16 | low))
            return data[:size]
    raise BuildError(f"syslinux did not install {short.decode().replace(' ', '.')}")


def _chain(table: array[int], first: int) -> list[int]:
    chain = [first]
    while (following := table[chain[-1]] & 0x0FFFFFFF) < 0x0FFFFFF8:
        if following < 2 or len(chain) > len(table):
            raise BuildError("syslinux left a broken cluster chain")
        chain.append(following)
    return chain


def _cluster(fh: BinaryIO, geo: fatwriter.Geometry, cluster: int) -> bytes:
    fh.seek(geo.offset(cluster))
    return fh.read(geo.cluster_bytes)


def _patch_area(image: bytes | bytearray) -> tuple[int, tuple[int, ...]]:
    """(offset of the patch area, the extended patch area's fields) of a boot image."""
    words = array("I", image[: len(image) - ADV_BYTES])
    try:
        at = 4 * words.index(LDLINUX_MAGIC)
    except ValueError:
        raise BuildError("ldlinux.sys has no syslinux patch area") from None
    epa = _PATCH.unpack_from(image, at)[7]
    if epa + _EXTENDED.size > len(image):
        raise BuildError("ldlinux.sys has an unknown patch area layout")
    return at, _EXTENDED.unpack_from(image, epa)


def extents(sectors: list[int]) -> list[tuple[int, int]]:
    """(lba, count) runs of ``sectors`` as syslinux's loader reads them into memory."""
    runs: list[tuple[int, int]] = []
    address = LOAD_ADDRESS
    base = address
    for sector in sectors:
        if runs:
            lba, count = runs[-1]
            end = base + (count + 1) * SECTOR
            if sector == lba + count and end - base < 65536 and (address ^ (end - 1)) >> 16 == 0:
                runs[-1] = (lba, count + 1)
                address += SECTOR
                continue
        runs.append((sector, 1))
        base = address
        address += SECTOR
    return runs


def patched(found: Template, sectors: list[int]) -> bytes:
    """ldlinux.sys patched for the volume sectors it occupies (``sectors``, in file order)."""
    if len(sectors) != found.sectors:
        raise BuildError(f"ldlinux.sys needs {found.sectors} sectors, got {len(sectors)}")
    image = bytearray(found.ldlinux_sys)
    boot_len = len(image) - ADV_BYTES
    at, (adv, _dir, _dirlen, _subvol, _subvollen, secptr, secptrcnt, _s0, _s1, _raid) = _patch_area(image)
    struct.pack_into("<HHI", image, at + 8, found.sectors - 2, 2, boot_len // 4)
    runs = extents(sectors[1:-2])
    if len(runs) > secptrcnt:
        raise BuildError(f"ldlinux.sys is too fragmented ({len(runs)} extents, room for {secptrcnt})")
    image[secptr : secptr + secptrcnt * _EXTENT.size] = bytes(secptrcnt * _EXTENT.size)
    for index, (lba, count) in enumerate(runs):
        _EXTENT.pack_into(image, secptr + index * _EXTENT.size, lba, count)
    struct.pack_into("<QQ", image, adv, sectors[-2], sectors[-1])
    struct.pack_into("<I", image, at + 16, 0)
    total = sum(array("I", image[:boot_len])) & 0xFFFFFFFF
    struct.pack_into("<I", image, at + 16, (LDLINUX_MAGIC - total) & 0xFFFFFFFF)
    return bytes(image)


def boot_sector(found: Template, volume_boot: bytes, first_sector: int) -> bytes:
    """The volume's boot sector with syslinux's code around its BPB, pointing at ``first_sector``."""
    sector = bytearray(volume_boot)
    sector[HEAD] = found.boot_sector[HEAD]
    sector[CODE] = found.boot_sector[CODE]
    _at, fields = _patch_area(found.ldlinux_sys)
    struct.pack_into("<I", sector, fields[7], first_sector & 0xFFFFFFFF)
    struct.pack_into("<I", sector, fields[8], first_sector >> 32)
    return bytes(sector)
