"""EBS direct upload: lkcloud vs a plain parallel PUT loop, against the extended moto server.

A 2 GiB sparse image holding 200 MiB of data (filesystem-like 8 MiB extents at 1 MiB-aligned
offsets). Reports, measured at the server in the same run:

- bytes sent / non-zero bytes for lkcloud (target <= 1.01: holes and zero blocks never sent);
- the throughput ratio lkcloud / reference, where the reference is the plain loop a script would
  write: one boto3 client with default settings, 64 threads, PutSnapshotBlock for every
  non-zero block it is told about (it does not scan the image itself).

Run: .venv/bin/python benchmarks/upload_aws.py [--size-gib 2] [--data-mib 200]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "providers")]

from lkcloud.artifact import file_digest  # noqa: E402
from lkcloud_aws import ebs_upload  # noqa: E402
from lkcloud_aws.blocks import BLOCK_SIZE, linear_checksum  # noqa: E402
from lkcloud_aws.session import Aws, Tuning  # noqa: E402
from tests.servers import moto_server  # noqa: E402
from tests.support.net import free_port, stop, wait_for_port  # noqa: E402

MIB = 1 << 20
EXTENT = 8 * MIB
TUNING = Tuning(poll=0.05)


def make_image(path: Path, size: int, data: int, seed: int = 1) -> int:
    """A sparse image with ``data`` bytes of random extents; the non-zero byte count."""
    rng = random.Random(seed)
    slots = rng.sample(range(size // (2 * EXTENT)), data // EXTENT)
    with path.open("wb") as fh:
        fh.truncate(size)
        for slot in slots:  # non-overlapping: each extent within its own 16 MiB slot
            fh.seek(slot * 2 * EXTENT + rng.randrange(0, EXTENT // MIB) * MIB)
            fh.write(rng.randbytes(EXTENT))
    return len(slots) * EXTENT


def server_bytes(endpoint: str, reset: bool = False) -> int:
    path = "/_lkcloud/reset-counts" if reset else "/_lkcloud/counts"
    request = urllib.request.Request(endpoint + path, data=b"" if reset else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.loads(response.read())["bytes"])


def reference(path: Path, indices: list[int]) -> float:
    """The plain loop: start, PUT every listed block from 64 threads, complete. Seconds taken."""
    import boto3

    ebs = boto3.client("ebs", region_name="us-east-1")
    start = time.monotonic()
    snapshot = ebs.start_snapshot(VolumeSize=-(-path.stat().st_size // (1 << 30)))["SnapshotId"]
    fd = os.open(path, os.O_RDONLY)

    def put(index: int) -> bytes:
        data = os.pread(fd, BLOCK_SIZE, index * BLOCK_SIZE).ljust(BLOCK_SIZE, b"\0")
        digest = hashlib.sha256(data).digest()
        ebs.put_snapshot_block(SnapshotId=snapshot, BlockIndex=index, BlockData=data, DataLength=BLOCK_SIZE,
                               Checksum=base64.b64encode(digest).decode(), ChecksumAlgorithm="SHA256")
        return digest

    with ThreadPoolExecutor(64) as pool:
        digests = list(pool.map(put, indices))
    os.close(fd)
    ebs.complete_snapshot(SnapshotId=snapshot, ChangedBlocksCount=len(indices), Checksum=linear_checksum(digests),
                          ChecksumAlgorithm="SHA256", ChecksumAggregationMethod="LINEAR")
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gib", type=int, default=2)
    parser.add_argument("--data-mib", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-") as tmp:
        work = Path(tmp)
        image = work / "disk.raw"
        nonzero = make_image(image, args.size_gib << 30, (args.data_mib * MIB) // EXTENT * EXTENT)
        port = free_port()
        proc = moto_server.start(port, work / "moto.log")
        try:
            wait_for_port(port, 60, proc)
            endpoint = f"http://127.0.0.1:{port}"
            os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                              AWS_DEFAULT_REGION="us-east-1")
            digest = file_digest(image)
            server_bytes(endpoint, reset=True)
            aws = Aws("us-east-1", TUNING)
            for service in ("ec2", "ebs"):  # client creation is setup, as for the reference below
                aws.client(service)
            aws.shards("ebs", TUNING.shards, TUNING.concurrency)
            started = time.monotonic()
            result = ebs_upload.upload(aws, image, digest, name="bench", journal_dir=work / "journal")
            ours = time.monotonic() - started
            sent = server_bytes(endpoint)
            indices = sorted(int(k.split("/")[1]) for k in json.loads(
                urllib.request.urlopen(endpoint + "/_lkcloud/counts", timeout=10).read())["puts"])
            plain = reference(image, indices)
        finally:
            stop(proc)
    mib = nonzero / MIB
    print(f"image: {args.size_gib} GiB, {mib:.0f} MiB non-zero; lkcloud sent {result.sent} blocks")
    print(f"bytes sent / non-zero bytes: {sent / nonzero:.4f} (target <= 1.01)")
    print(f"lkcloud:   {ours:6.2f} s  {mib / ours:7.1f} MiB/s")
    print(f"reference: {plain:6.2f} s  {mib / plain:7.1f} MiB/s (plain 64-thread PUT loop, same server)")
    print(f"throughput ratio lkcloud / reference: {plain / ours:.2f}")


if __name__ == "__main__":
    main()
