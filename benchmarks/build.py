"""Benchmark: ``lkcloud build`` (kernel+initrd, gzip) from a warm cache with >= 150 MB of layers,
against ``tar -x`` of the same layers into a tree then ``find | cpio -o -H newc | gzip``; then the
initrd's compression against ``gzip -6`` and ``pigz -6`` of the same cpio bytes (the archives of
lkcloud's initrd, decompressed and concatenated without their padding).

Prints three ratios: build time against the reference pipeline (target < 1); compressed size
against ``gzip -6`` (target <= 1.02); compression time and size against ``pigz -6``, the floor on
this machine's cores.

Run: .venv/bin/python benchmarks/build.py [--mb 160] [--layout segmented|stream]
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lkcloud.build import BuildOptions, build
from lkcloud.initrd import archives
from lkcloud.initrd.pgzip import ParallelGzip
from lkcloud.oci.api import ContainerConfig
from lkcloud.oci.store import ImageStore
from lkcloud.process import run

WORDS = [b"linuxkit", b"kernel", b"container", b"initrd", b"overlay", b"runc", b"service", b"config", b"\n"]


def content(rng: random.Random, size: int) -> bytes:
    """Half text-like (compressible), half random bytes, like a mix of binaries and text."""
    text = b" ".join(rng.choice(WORDS) for _ in range(size // 16))[: size // 2]
    return text + rng.randbytes(size - len(text))


def make_layer(path: Path, rng: random.Random, total: int, prefix: str) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        written, index = 0, 0
        while written < total:
            size = rng.choice((512, 4096, 16384, 65536, 262144, 1 << 20))
            info = tarfile.TarInfo(f"{prefix}/d{index % 50:02d}/f{index:05d}")
            data = content(rng, size)
            info.size, info.mode, info.mtime = len(data), 0o644, 1600000000
            tar.addfile(info, __import__("io").BytesIO(data))
            written += size
            index += 1


def seed(cache: Path, work: Path, megabytes: int) -> tuple[Path, list[Path]]:
    rng = random.Random(1)
    store = ImageStore(cache)
    modules = work / "kernel.tar"
    make_layer(modules, rng, 8 << 20, "lib/modules")
    kernel = work / "kernel-layer.tar"
    with tarfile.open(kernel, "w") as tar:
        tar.add(modules, "kernel.tar")
        info = tarfile.TarInfo("kernel")
        blob = rng.randbytes(8 << 20)
        info.size = len(blob)
        tar.addfile(info, __import__("io").BytesIO(blob))
    store.put_image("bench/kernel:1", config=ContainerConfig(), layers=[kernel])
    blobs = []
    per_image = (megabytes << 20) // 4
    for i in range(4):
        layers = []
        for j in range(2):
            path = work / f"img{i}-{j}.tar"
            make_layer(path, rng, per_image // 2, f"usr/share/img{i}/l{j}")
            layers.append(path)
        image = store.put_image(f"bench/img{i}:1", config=ContainerConfig(entrypoint=("/bin/true",)), layers=layers)
        blobs += [store.layout.blob_path(layer.digest) for layer in image.layers]
    config = work / "bench.yml"
    config.write_text(
        "kernel:\n  image: bench/kernel:1\n  cmdline: console=ttyS0\n"
        "init:\n  - bench/img0:1\n"
        "onboot:\n  - name: one\n    image: bench/img1:1\n"
        "services:\n  - name: two\n    image: bench/img2:1\n  - name: three\n    image: bench/img3:1\n"
    )
    return config, blobs


def reference(work: Path, blobs: list[Path]) -> float:
    tree = work / "tree"
    tree.mkdir()
    start = time.perf_counter()
    for blob in blobs:
        run(["tar", "-xzf", blob, "-C", tree])
    run(["sh", "-c", "find . | cpio -o -H newc --quiet | gzip > ../reference.img"], cwd=tree)
    return time.perf_counter() - start


class Timing(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds of CPU on all cores: what a loaded machine does not distort
    size: int  # output bytes


def timed(argv: list[str | Path]) -> Timing:
    """A compressor writing to stdout."""
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    size = len(run(argv).stdout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Timing(time.perf_counter() - start, cpu, size)


def ours(source: Path, out: Path) -> Timing:
    """lkcloud's parallel gzip over the same file, fed as the initrd writer feeds it."""
    start, cpu = time.perf_counter(), time.process_time()
    with source.open("rb") as src, out.open("wb") as fh, ParallelGzip(fh) as gz:
        while chunk := src.read(1 << 16):
            gz.write(chunk)
    return Timing(time.perf_counter() - start, time.process_time() - cpu, out.stat().st_size)


def compression(work: Path, initrd: Path) -> None:
    data = initrd.read_bytes()
    cpio = work / "initrd.cpio"
    cpio.write_bytes(b"".join(archives(data)))
    payload = sum(len(part) for part in _compressed_parts(data))
    gzip6, pigz6 = timed(["gzip", "-6", "-n", "-c", cpio]), timed(["pigz", "-6", "-n", "-c", cpio])
    mine = ours(cpio, work / "ours.gz")
    print(f"the initrd's cpio: {cpio.stat().st_size / 1e6:.1f} MB")
    print(f"  lkcloud initrd: {payload / 1e6:.1f} MB compressed, {len(data) / 1e6:.1f} MB with the padding")
    for name, took in (("gzip -6", gzip6), ("pigz -6", pigz6), ("lkcloud's gzip", mine)):
        print(f"  {name}: {took.size / 1e6:.1f} MB in {took.wall:.2f} s ({took.cpu:.2f} s of CPU)")
    print(f"size ratio (lkcloud initrd / gzip -6): {payload / gzip6.size:.3f}  (target <= 1.02; "
          f"{len(data) / gzip6.size:.3f} with the zero padding, which stays sparse on disks)")
    print(f"ratio against pigz -6 on the same bytes: time {mine.wall / pigz6.wall:.2f} "
          f"(CPU {mine.cpu / pigz6.cpu:.2f}), size {mine.size / pigz6.size:.3f}; "
          f"time against gzip -6: {mine.wall / gzip6.wall:.2f}")


def _compressed_parts(data: bytes) -> list[bytes]:
    """Each gzip member of the initrd as stored, the zero padding between them left out."""
    parts: list[bytes] = []
    pos = 0
    while found := re.compile(rb"[^\x00]").search(data, pos):
        member = zlib.decompressobj(31)
        member.decompress(data[found.start() :])
        pos = len(data) - len(member.unused_data)
        parts.append(data[found.start() : pos])
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=160, help="megabytes of (uncompressed) layers")
    parser.add_argument("--layout", choices=("segmented", "stream"), default="segmented", help="initrd layout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-") as tmp:
        work = Path(tmp)
        config, blobs = seed(work / "cache", work, args.mb)
        layer_bytes = sum(b.stat().st_size for b in blobs)
        start = time.perf_counter()
        build(BuildOptions(files=(config,), outdir=work / "out", cache=work / "cache", initrd_layout=args.layout))
        elapsed = time.perf_counter() - start
        theirs = reference(work, blobs)
        initrd = work / "out" / "bench-initrd.img"
        print(f"layers: {args.mb} MB uncompressed, {layer_bytes / 1e6:.0f} MB compressed in the cache")
        print(f"lkcloud build kernel+initrd ({args.layout}): {elapsed:.2f} s "
              f"(initrd {initrd.stat().st_size / 1e6:.1f} MB)")
        print(f"tar -x + find | cpio | gzip: {theirs:.2f} s "
              f"(initrd {(work / 'reference.img').stat().st_size / 1e6:.1f} MB)")
        print(f"time ratio (lkcloud / reference): {elapsed / theirs:.2f}  (target < 1)")
        compression(work, initrd)


if __name__ == "__main__":
    main()
