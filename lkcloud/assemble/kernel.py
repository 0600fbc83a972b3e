"""The kernel image's part of the stream (LinuxKit's ``kernelFilter``).

The kernel image must hold the kernel binary (``kernel`` unless ``binary:`` says otherwise) and,
unless ``tar:`` is empty or ``none``, the modules tar (``kernel.tar``); optionally a microcode cpio.
They become ``boot/kernel``, ``boot/cmdline``, ``boot/ucode.cpio`` and the modules tar's contents;
everything else in the image is discarded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lkcloud.assemble.image import image_tar
from lkcloud.errors import BuildError
from lkcloud.oci.limits import Budget, Limits
from lkcloud.oci.spool import Data
from lkcloud.oci.unpack import DIR, REG, Entry, Warn, read_tar, sanitise
from lkcloud.spec.model import Kernel

LOCATION = "kernel"


def kernel_entries(kernel: Kernel, image: Iterable[Entry], source: str, mtime: int, *,
                   warn: Warn | None = None, limits: Limits | None = None) -> Iterator[Entry]:
    """boot/ entries and the modules tar's contents, in the order the image holds them."""
    wanted_tar = kernel.tar_name or ""
    ucode = kernel.ucode or ""
    found_kernel = found_tar = found_ucode = False

    def made(name: str, kind: bytes, mode: int, like: Entry, data: Data = b"") -> Entry:
        return Entry(name, kind, mode, mtime=mtime, data=data, pax=like.pax, source=source, location=LOCATION)

    filtered = image_tar(image, source=source, location=LOCATION, prefix="", resolv="", mtime=mtime)
    for entry in filtered:
        if entry.type != REG:
            continue
        if entry.name == kernel.binary_name:
            if found_kernel:
                raise BuildError(f"kernel image {source}: found more than one possible kernel image")
            found_kernel = True
            if not found_ucode:
                yield made("boot", DIR, 0o755, entry)
            cmdline = (kernel.cmdline or "").encode()
            yield made("boot/cmdline", REG, 0o644, entry, cmdline)
            yield made("boot/kernel", REG, entry.mode, entry, entry.data)
        elif wanted_tar and entry.name == wanted_tar:
            found_tar = True
            yield from _modules(entry, f"{source} {wanted_tar}", source, warn, limits or Limits())
        elif ucode and entry.name == ucode:
            found_ucode = True
            if not found_kernel:
                yield made("boot", DIR, 0o755, entry)
            yield made("boot/ucode.cpio", REG, entry.mode, entry, entry.data)
    if not found_kernel:
        raise BuildError(f"kernel image {source}: did not find kernel {kernel.binary_name!r} in kernel image")
    if wanted_tar and not found_tar:
        raise BuildError(f"kernel image {source}: did not find kernel tar {wanted_tar!r} in kernel image",
                         hint="set kernel.tar: none if the image has no modules tar")


def _modules(entry: Entry, where: str, source: str, warn: Warn | None, limits: Limits) -> Iterator[Entry]:
    """The modules tar's entries (held to the image's limits, dropped where they pass a symlink)."""
    warnings = [warn] if warn else []
    with entry.open() as stream:
        members = [member for _raw, member in read_tar(stream, where, *warnings, budget=Budget(limits, where))]
    for member in sanitise(members, where, *warnings):
        yield member.renamed(member.name, source=source, location=LOCATION)
