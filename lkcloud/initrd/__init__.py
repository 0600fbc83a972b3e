"""The initrd: the root filesystem tar in, kernel, command line and compressed newc archives out.

The pipeline, one module a step:

    tree.py      the tar's entries as the initrd sees them (boot files split out, last one wins)
    segments.py  which archives, in which order, where each starts (segmented or stream layout)
    cpio.py      each archive in the newc format the kernel unpacks
    compress.py  each archive compressed (gzip on every core: pgzip.py; zstd, xz, none)
    writer.py    build_initrd: kernel, initrd.img (ucode first when there is one), initrd-only.img
"""

from lkcloud.initrd.compress import COMPRESSIONS, archives, check_compression
from lkcloud.initrd.cpio import read_cpio
from lkcloud.initrd.segments import LAYOUTS, Segment, check_layout
from lkcloud.initrd.writer import InitrdFiles, build_initrd

__all__ = ["COMPRESSIONS", "LAYOUTS", "InitrdFiles", "Segment", "archives", "build_initrd", "check_compression",
           "check_layout", "read_cpio"]
