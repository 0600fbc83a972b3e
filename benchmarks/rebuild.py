"""What a one-function release changes on disk: the fraction of 512 KiB blocks that differ.

Builds the FaaS worker (templates/faas-worker.yml + examples/functions, as scripts/demo does) as
``aws``, ``vhd`` and ``gcp`` images, changes the hello function's script, builds again, and
compares the two ``aws`` disks, the two fixed VHDs and the two ``disk.raw`` that GNU tar unpacks
from the ``gcp`` archives, block by block. Each line gives the blocks that differ over all the
disk's blocks, and over the blocks that hold data in either build (what a push uploads; target
for the segmented layout: under 3 %). ``--layout both`` (the default) also shows the single-stream
initrd for comparison.

Run: .venv/bin/python benchmarks/rebuild.py [--layout segmented|stream|both] [--store DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lkcloud.build import BuildOptions, build  # noqa: E402
from lkcloud.disk.layout import BLOCK  # noqa: E402
from lkcloud.disk.sparse import data_map  # noqa: E402
from lkcloud.pkg.build import PackageOptions, build_packages  # noqa: E402
from lkcloud.process import run  # noqa: E402

PACKAGES = ("kernel", "init", "runc", "metadata", "faas-runtime")
FORMATS = ("aws", "vhd", "gcp")


def release(work: Path, store: Path, version: str, greeting: str) -> Path:
    """The worker's files with the hello function's script saying ``greeting``; returns the overlay.

    The function image gets its own name and tag, so the store's lkcloud/faas-hello:dev is left
    alone; the overlay's version file is not changed: only the function differs."""
    functions = shutil.copytree(ROOT / "examples" / "functions", work / f"functions-{version}")
    script = functions / "hello" / "rootfs" / "functions" / "hello"
    script.write_text(script.read_text().replace('echo "hello, ', f'echo "{greeting}, '))
    spec = functions / "hello" / "build.yml"
    spec.write_text(spec.read_text().replace("image: lkcloud/faas-hello", "image: lkcloud/bench-hello")
                    .replace("tag: dev", f"tag: {version}"))
    overlay = functions / "worker.yml"
    overlay.write_text(overlay.read_text().replace("lkcloud/faas-hello:dev", f"lkcloud/bench-hello:{version}"))
    build_packages([functions / "hello"], PackageOptions(cache=store))
    return overlay


def disks(work: Path, store: Path, overlay: Path, layout: str, name: str) -> dict[str, Path]:
    """The ``aws`` disk, the fixed VHD and the gcp archive's disk.raw of one build."""
    out = work / f"out-{name}"
    result = build(BuildOptions(files=(ROOT / "templates" / "faas-worker.yml", overlay), formats=FORMATS,
                                name="worker", outdir=out, cache=store, initrd_layout=layout))
    unpacked = out / "gcp"
    unpacked.mkdir()
    run(["tar", "-xzf", result.outputs["gcp"][0], "-C", unpacked])
    return {"aws": result.outputs["aws"][0], "vhd": result.outputs["vhd"][0], "gcp disk.raw": unpacked / "disk.raw"}


def blocks_with_data(path: Path) -> set[int]:
    size = path.stat().st_size
    found: set[int] = set()
    with path.open("rb") as fh:
        for offset, length in data_map(fh, size):
            found.update(range(offset // BLOCK, (offset + length - 1) // BLOCK + 1))
    return found


def compare(old: Path, new: Path) -> tuple[int, int, int]:
    """(blocks that differ, blocks with data in either, all blocks)."""
    total = -(-max(old.stat().st_size, new.stat().st_size) // BLOCK)
    candidates = blocks_with_data(old) | blocks_with_data(new)
    differ = 0
    with old.open("rb") as a, new.open("rb") as b:
        for index in sorted(candidates):
            a.seek(index * BLOCK)
            b.seek(index * BLOCK)
            differ += a.read(BLOCK) != b.read(BLOCK)
    return differ, len(candidates), total


def measure(work: Path, store: Path, layout: str) -> None:
    first = disks(work, store, work / "functions-r1" / "worker.yml", layout, f"{layout}-r1")
    second = disks(work, store, work / "functions-r2" / "worker.yml", layout, f"{layout}-r2")
    print(f"initrd layout {layout}:")
    for kind, old in first.items():
        differ, used, total = compare(old, second[kind])
        target = "  (target < 3%)" if layout == "segmented" else ""
        print(f"  {kind:13} {differ:4d} of {total} blocks differ ({differ / total:6.2%} of the disk), "
              f"of {used} with data: {differ / used:6.2%}{target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", choices=("segmented", "stream", "both"), default="both")
    parser.add_argument("--store", type=Path, help="image store to build the packages into (kept between runs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-rebuild-") as tmp:
        work = Path(tmp)
        store = args.store or work / "store"
        print("building the packages and two releases of the hello function ...", flush=True)
        build_packages([ROOT / "pkg" / name for name in PACKAGES], PackageOptions(cache=store))
        release(work, store, "r1", "hello")
        release(work, store, "r2", "hello again, from the second release")  # the script grows
        for layout in ("segmented", "stream") if args.layout == "both" else (args.layout,):
            measure(work, store, layout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
