"""A decompression bomb for memory tests: an image whose layer holds one large file of zeros
(a few hundred KiB gzip-compressed in the cache), and a child build that reports its own peak
resident memory."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from lkcloud.oci.api import ContainerConfig
from lkcloud.oci.store import ImageStore

# Run as ``python -c CHILD_BUILD CONFIG OUT CACHE``: builds the tar format and prints its own peak
# resident memory (VmHWM, KiB; ru_maxrss would also count the parent's from before exec).
CHILD_BUILD = """
import sys
from pathlib import Path
from lkcloud.build import BuildOptions, build
config, out, cache = map(Path, sys.argv[1:4])
build(BuildOptions(files=(config,), formats=("tar",), outdir=out, cache=cache))
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as they are read."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def zero_file_image(work: Path, ref: str, path: str, size: int) -> Path:
    """Store ``ref`` in ``work/cache``: one layer holding ``path``, ``size`` zero bytes; returns
    a LinuxKit config that runs it onboot."""
    layer = work / "zeros.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(path)
        info.size, info.mode = size, 0o644
        tar.addfile(info, io.BufferedReader(Zeros(size), 1 << 20))
    ImageStore(work / "cache").put_image(ref, config=ContainerConfig(), layers=[layer])
    layer.unlink()
    config = work / "zeros.yml"
    config.write_text(f"onboot:\n  - name: zeros\n    image: {ref}\n")
    return config
