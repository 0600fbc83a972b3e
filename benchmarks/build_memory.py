"""Peak resident memory of ``lkcloud build`` (tar) of an image whose layer holds one large file.

The layer is a file of zeros (``--mb``, 512 by default) in a tar, gzip-compressed to a few
hundred KiB in the cache: the shape of a decompression bomb. The build runs in a child process
which reports its own peak RSS (``VmHWM``: ``ru_maxrss`` would count the parent's before exec); the same figure for a
child that only imports lkcloud is printed beside it.

Run: .venv/bin/python benchmarks/build_memory.py [--mb 512]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.bomb import CHILD_BUILD, zero_file_image  # noqa: E402

IMPORT_ONLY = "import lkcloud.build, lkcloud.assemble, lkcloud.oci.store\n" + CHILD_BUILD.rsplit("\n", 2)[-2]


def seed(work: Path, megabytes: int) -> Path:
    return zero_file_image(work, "bench/big:1", "big/zeros", megabytes << 20)


def peak_rss_mib(code: str, *args: str) -> float:
    """The child's own peak RSS, which it prints last (``VmHWM``, KiB)."""
    done = subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=ROOT, capture_output=True, text=True)
    return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=512, help="size of the file of zeros in the layer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-") as tmp:
        work = Path(tmp)
        config = seed(work, args.mb)
        blobs = sum(p.stat().st_size for p in (work / "cache" / "blobs" / "sha256").iterdir())
        baseline = peak_rss_mib(IMPORT_ONLY)
        peak = peak_rss_mib(CHILD_BUILD, str(config), str(work / "out"), str(work / "cache"))
        print(f"layer: one {args.mb} MiB file of zeros, {blobs / 1024:.0f} KiB of blobs in the cache")
        print(f"peak RSS, importing lkcloud only: {baseline:.0f} MiB")
        print(f"peak RSS, lkcloud build -f tar:  {peak:.0f} MiB")


if __name__ == "__main__":
    main()
