"""A fixed VHD into an Azure page blob, as a ratio to a plain parallel upload of every page.

Both run against the same Azurite in the same run, from the same 2 GiB fixed VHD holding
200 MB of data (spread over the disk in 1 MiB extents):

- reference: every 4 MiB page of the VHD sent with Put Page, 16 in parallel, zeros included
  (what an uploader without zero skipping does);
- subject:   lkcloud's uploader: holes skipped (SEEK_DATA), zero granules dropped, only the
  ranges with data sent, 16 in parallel, each with its MD5.

Reports bytes sent / non-zero bytes (target <= 1.01) and the time ratio subject / reference.
Run: ``.venv/bin/python benchmarks/upload_azure.py [--data-mb 200] [--runs 1]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "providers")]

from azure.storage.blob import BlobServiceClient  # noqa: E402

from lkcloud.artifact import file_digest  # noqa: E402
from lkcloud.disk import vhd  # noqa: E402
from lkcloud_azure.clients import make_calls  # noqa: E402
from lkcloud_azure.settings import Timing  # noqa: E402
from lkcloud_azure.upload import PAGE, PageBlobUploader  # noqa: E402
from lkcloud_azure.vhd import check  # noqa: E402
from tests.servers.azurite import azurite, azurite_executable, connection_string  # noqa: E402

MIB = 1 << 20
DISK = 2 << 30
WORKERS = 16


def make_vhd(path: Path, data_mb: int) -> int:
    """The VHD; returns its non-zero byte count (data plus footer)."""
    rng = random.Random(1)
    extents = data_mb * 1000 * 1000 // MIB
    stride = (DISK // MIB) // extents
    with path.open("wb") as fh:
        fh.truncate(DISK)
        for i in range(extents):
            fh.seek(i * stride * MIB)
            fh.write(rng.randbytes(MIB).replace(b"\0", b"\1"))
        fh.seek(DISK)
        fh.write(vhd.footer_bytes(vhd.Footer(size=DISK, timestamp=0, uuid=uuid.UUID(int=1))))
    return extents * MIB + vhd.FOOTER_SIZE


def service(url: str) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(connection_string(url), retry_total=0)


def reference(path: Path, url: str, name: str) -> tuple[float, int]:
    size = path.stat().st_size
    blob = service(url).get_blob_client("bench", name)
    start = time.perf_counter()
    blob.create_page_blob(size)

    def put(offset: int) -> int:
        with path.open("rb") as fh:
            data = os.pread(fh.fileno(), min(PAGE, size - offset), offset)
        blob.upload_page(data, offset=offset, length=len(data))
        return len(data)

    with ThreadPoolExecutor(WORKERS) as pool:
        sent = sum(pool.map(put, range(0, size, PAGE)))
    return time.perf_counter() - start, sent


def subject(path: Path, url: str, name: str, digest: str) -> tuple[float, int]:
    uploader = PageBlobUploader(service(url), "bench", make_calls(Timing()), WORKERS)
    start = time.perf_counter()
    result = uploader.upload(check(path), name, digest)
    return time.perf_counter() - start, result.bytes_sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if azurite_executable() is None:
        sys.exit("azurite-blob is not installed: run scripts/bootstrap")
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-") as tmp:
        work = Path(tmp)
        disk = work / "disk.vhd"
        nonzero = make_vhd(disk, args.data_mb)
        digest = file_digest(disk)
        with azurite(work / "azurite") as url:
            service(url).create_container("bench")
            refs, subs, sent = [], [], 0
            for attempt in range(args.runs):
                refs.append(reference(disk, url, f"reference-{attempt}.vhd")[0])
                elapsed, sent = subject(disk, url, f"subject-{attempt}.vhd", digest)
                subs.append(elapsed)
    ref, sub = statistics.median(refs), statistics.median(subs)
    print(f"VHD 2 GiB, {nonzero / 1e6:.0f} MB non-zero; {WORKERS} workers; Azurite")
    print(f"reference (every 4 MiB page): {ref:.2f} s")
    print(f"lkcloud (non-zero ranges):    {sub:.2f} s, {sent / 1e6:.1f} MB sent")
    print(f"bytes sent / non-zero bytes: {sent / nonzero:.4f} (target <= 1.01)")
    print(f"time ratio lkcloud / reference: {sub / ref:.3f}")


if __name__ == "__main__":
    main()
