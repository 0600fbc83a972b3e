"""What the disk formats share: the boot content of a build, the disk size, and disks staged
once per build in its work directory for the formats converted from them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from lkcloud.disk.bootdisk import BootContent, Disk, DiskKind, write_disk
from lkcloud.disk.ids import GIB, MIB, align_up
from lkcloud.errors import BuildError, UsageError
from lkcloud.formats import BuildInputs, Format
from lkcloud.platform import BootMode
from lkcloud.progress import Reporter

DEFAULT_SIZE = GIB

Writer = Callable[[BuildInputs, Reporter], list[Path]]


def boot_content(inputs: BuildInputs) -> BootContent:
    """The kernel, initrd and command line of the build, as the disk writers take them."""
    if inputs.kernel is None or inputs.initrd is None:
        raise BuildError("this format needs a kernel and an initrd")
    return BootContent(inputs.name, inputs.kernel, inputs.initrd, inputs.cmdline, inputs.source_date_epoch,
                       inputs.kernel_digest, inputs.initrd_digest, str(inputs.arch))


def requested_size(inputs: BuildInputs, multiple: int = MIB) -> int:
    """The disk size: ``--size`` (default 1 GiB) rounded up to ``multiple``."""
    size = DEFAULT_SIZE if inputs.size is None else inputs.size
    if size <= 0:
        raise UsageError(f"--size must be positive, not {size}")
    return align_up(size, multiple)


def output(inputs: BuildInputs, suffix: str, reporter: Reporter) -> Path:
    """The output path ``NAME<suffix>``, announced."""
    target = inputs.outdir / f"{inputs.name}{suffix}"
    reporter.step(f"writing {target.name}")
    return target


def source_disk(inputs: BuildInputs, kind: DiskKind, multiple: int = MIB) -> Disk:
    """A disk in the work directory to convert from; made once per content, kind and size."""
    content = boot_content(inputs)
    size = requested_size(inputs, multiple)
    content.check()
    path = inputs.workdir / "disks" / f"{kind}-{content.content_id(kind, size).digest[:16]}.raw"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        try:
            write_disk(content, kind, partial, size)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)
    return Disk(path, kind, size, content.identity(kind, size))


def disk_format(name: str, suffix: str, write: Writer, mode: BootMode, help: str) -> Format:
    """A table entry for a disk format writing one file, ``NAME<suffix>``."""
    return Format(name, lambda base: (f"{base}{suffix}",), write, boot_mode=mode, help=help)
