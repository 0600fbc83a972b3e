"""A fixed VHD into an Azure page blob, as a ratio to a plain parallel upload of every page.

Both run against the same Azurite in the same run, from the same 2 GiB fixed VHD holding
200 MB of data (spread over the disk in 1 MiB extents):

- reference: every 4 MiB page of the VHD sent with Put Page, 16 in parallel, zeros included
  (what an uploader without zero skipping does);
- subject:   lkcloud's uploader: holes skipped (SEEK_DATA), zero granules dropped, only the
  ranges with data sent, 16 in parallel, each with its MD5.

Reports bytes sent / non-zero bytes (target <= 1.01) and the time ratio subject / reference.

Then the second push of a release that changed ``--changed-percent`` of the data blocks (512 KiB),
each way an incremental push can be made, as a ratio to a full upload of the new VHD:

- copy + changed pages: lkcloud's incremental push (Copy Blob of the previous blob, polled, then
  only the blocks that differ written and the emptied ones cleared), knowing the previous blob's
  blocks from its manifest, and again from reading it back (no manifest);
- in place + snapshot: the page-blob snapshot way: the changed blocks written into the family's
  one blob, then Snapshot Blob (the release is the snapshot); what changed is known the same way.
  The snapshot API's own ways to learn what changed, Get Page Ranges with ``prevsnapshot`` and
  Incremental Copy Blob, are tried and reported: Azurite 3.35.0 does not implement them.

Azurite's own Copy Blob is used here (it completes at once and copies metadata only; the tests
use tests/servers/azurite_copy.py, which copies as Azure does), so each variant gets its own
parent blob. Run: ``.venv/bin/python benchmarks/upload_azure.py [--data-mb 200] [--runs 1]
[--changed-percent 2]``, or with two real releases: ``... --vhds OLD.vhd NEW.vhd`` (two builds of
the FaaS worker whose hello function changed, as benchmarks/rebuild.py makes them).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "providers")]

from azure.core.exceptions import HttpResponseError  # noqa: E402
from azure.storage.blob import BlobServiceClient  # noqa: E402

from lkcloud.artifact import file_digest  # noqa: E402
from lkcloud.disk import vhd  # noqa: E402
from lkcloud.disk.layout import BLOCK  # noqa: E402
from lkcloud.disk.sparse import copy_sparse, data_map  # noqa: E402
from lkcloud.provider import blocks  # noqa: E402
from lkcloud_azure import incremental  # noqa: E402
from lkcloud_azure.clients import make_calls  # noqa: E402
from lkcloud_azure.incremental import Lineage  # noqa: E402
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


def changed(old: Path, new: Path, percent: float) -> int:
    """``new``: ``old`` with ``percent`` of its data blocks rewritten, spread over the disk; returns
    how many."""
    with old.open("rb") as src, new.open("wb") as dst:
        copy_sparse(src, dst, old.stat().st_size)  # as a build writes it: holes stay holes
    data = sorted(blocks.scan(old))
    count = max(1, round(len(data) * percent / 100))
    rng = random.Random(2)
    with new.open("r+b") as fh:
        for index in data[:: max(1, len(data) // count)][:count]:
            fh.seek(index * BLOCK)
            fh.write(rng.randbytes(BLOCK).replace(b"\0", b"\1"))
    return count


def uploader(url: str, container: str) -> PageBlobUploader:
    service(url).create_container(container)
    return PageBlobUploader(service(url), container, make_calls(Timing(poll=0.05, poll_max=0.5)), WORKERS)


def timed_push(up: PageBlobUploader, path: Path, cwd: Path | None) -> tuple[float, dict[str, object], int]:
    """One push of ``path``; the time leaves out the file's digest (the build computes it)."""
    lineage = Lineage("bench", "bench-", cwd=cwd) if cwd is not None else None
    digest = file_digest(path)
    start = time.perf_counter()
    result = up.upload(check(path), f"bench-{digest[7:23]}.vhd", digest, lineage=lineage)
    return time.perf_counter() - start, result.how, result.bytes_sent


def snapshot_way(url: str, old: Path, new: Path, tag: str) -> tuple[float, int]:
    """The changed blocks written into the family's blob in place, then Snapshot Blob."""
    up = uploader(url, f"snap-{tag}")
    up.upload(check(old), "bench.vhd", file_digest(old))
    known = blocks.scan(old)  # what the manifest would say
    blob = up.client("bench.vhd")
    start = time.perf_counter()
    image = check(new)
    fresh = blocks.scan(new)
    ops = incremental.operations(image, blocks.diff(known, fresh, -(-image.size // BLOCK)), known)
    up.send(blob, image, ops)
    blob.create_snapshot()
    return time.perf_counter() - start, sum(op.span.length for op in ops if not op.clear)


def unsupported(url: str) -> list[str]:
    """What Azurite answers to the snapshot API's ways of learning what changed."""
    up = uploader(url, "snapapi")
    blob = up.client("base.vhd")
    blob.create_page_blob(4 * MIB)
    blob.upload_page(b"\1" * 1024, offset=0, length=1024)
    snap = blob.create_snapshot()
    blob.upload_page(b"\2" * 512, offset=2 * MIB, length=512)
    blob.clear_page(offset=0, length=512)
    want = [(0, 511, True), (2 * MIB, 2 * MIB + 511, False)]  # what Azure answers: the cleared and the written
    got = sorted((r.start, r.end, bool(r.cleared)) for r in blob.list_page_ranges(previous_snapshot=snap["snapshot"]))
    answers = ["Get Page Ranges diff (prevsnapshot): " + ("right" if got == want else
               f"wrong: {got} (the blob's current ranges; Azure answers {want}; Azurite #812)")]
    try:
        up.client("copy.vhd").start_copy_from_url(f"{blob.url}?snapshot={snap['snapshot']}", incremental_copy=True)
        answers.append("Incremental Copy Blob: accepted")
    except HttpResponseError as exc:
        answers.append(f"Incremental Copy Blob: {exc.status_code} {getattr(exc, 'error_code', '')}")
    return answers


def second_push(work: Path, url: str, old: Path, new: Path, runs: int) -> None:
    """Each way of pushing ``new`` when ``old`` was pushed before, as a ratio to a full upload."""
    change = blocks.diff(blocks.scan(old), blocks.scan(new), -(-new.stat().st_size // BLOCK))
    times: dict[str, list[float]] = {}
    sent: dict[str, int] = {}
    read = 0
    for run in range(runs):
        full = uploader(url, f"full-{run}")
        elapsed, _how, sent["full upload"] = timed_push(full, new, None)
        times.setdefault("full upload", []).append(elapsed)
        for way, keep in (("copy + changed pages, manifest", True), ("copy + changed pages, read back", False)):
            manifests = work / f"m-{run}-{keep}"
            up = uploader(url, f"inc-{run}-{'manifest' if keep else 'readback'}")
            timed_push(up, old, manifests)
            if not keep:
                shutil.rmtree(manifests / ".lkcloud")
            elapsed, how, sent[way] = timed_push(up, new, manifests)
            assert how["mode"] == "incremental", how
            read = int(str(how["bytes_read"])) if not keep else read
            times.setdefault(way, []).append(elapsed)
        elapsed, sent["in place + snapshot, manifest"] = snapshot_way(url, old, new, str(run))
        times.setdefault("in place + snapshot, manifest", []).append(elapsed)
    full_time = statistics.median(times["full upload"])
    data = len(change.write) + len(change.same)
    print(f"second push, {new} after {old}: {len(change.write)} of {data} blocks with data written, "
          f"{len(change.clear)} cleared (512 KiB blocks; median of {runs}):")
    for way, values in times.items():
        elapsed = statistics.median(values)
        extra = f", {read / 1e6:.1f} MB read back" if "read back" in way else ""
        print(f"  {way:33} {elapsed:6.2f} s ({elapsed / full_time:.3f} of full), "
              f"{sent[way] / 1e6:7.1f} MB sent ({sent[way] / sent['full upload']:.3f}){extra}")
    for line in unsupported(url):
        print(f"  {line}")


def first_push(work: Path, url: str, disk: Path, runs: int) -> None:
    """lkcloud's upload of ``disk`` against every page of it sent."""
    nonzero = sum(length for _start, length in data_map_of(disk))
    digest = file_digest(disk)
    service(url).create_container("bench")
    refs, subs, sent = [], [], 0
    for attempt in range(runs):
        refs.append(reference(disk, url, f"reference-{attempt}.vhd")[0])
        elapsed, sent = subject(disk, url, f"subject-{attempt}.vhd", digest)
        subs.append(elapsed)
    ref, sub = statistics.median(refs), statistics.median(subs)
    print(f"VHD 2 GiB, {nonzero / 1e6:.0f} MB non-zero; {WORKERS} workers; Azurite")
    print(f"reference (every 4 MiB page): {ref:.2f} s")
    print(f"lkcloud (non-zero ranges):    {sub:.2f} s, {sent / 1e6:.1f} MB sent")
    print(f"bytes sent / non-zero bytes: {sent / nonzero:.4f} (target <= 1.01)")
    print(f"time ratio lkcloud / reference: {sub / ref:.3f}", flush=True)


def data_map_of(path: Path) -> list[tuple[int, int]]:
    with path.open("rb") as fh:
        return data_map(fh, path.stat().st_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--changed-percent", type=float, default=2.0)
    parser.add_argument("--vhds", nargs=2, type=Path, metavar=("OLD", "NEW"),
                        help="measure the second push with these two releases (e.g. two builds of the FaaS worker)")
    args = parser.parse_args()
    if azurite_executable() is None:
        sys.exit("azurite-blob is not installed: run scripts/bootstrap")
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-") as tmp:
        work = Path(tmp)
        with azurite(work / "azurite") as url:
            if args.vhds:
                second_push(work, url, args.vhds[0], args.vhds[1], args.runs)
                return
            disk = work / "disk.vhd"
            make_vhd(disk, args.data_mb)
            first_push(work, url, disk, args.runs)
            changed(disk, work / "new.vhd", args.changed_percent)
            second_push(work, url, disk, work / "new.vhd", args.runs)


if __name__ == "__main__":
    main()
