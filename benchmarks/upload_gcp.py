"""Raw disk to an uploaded GCE archive, as a ratio to ``tar -Sczf`` plus a plain upload.

Both run against the same gcp-storage-emulator in the same run, from the same sparse raw disk:

- reference: ``tar --format=oldgnu -Sczf disk.tar.gz disk.raw`` (GNU tar + gzip -6), then
  google-cloud-storage's ``upload_from_filename`` of that file;
- subject:   lkcloud's streaming path: sparse map, old-GNU tar and parallel gzip generated on the
  fly into a resumable upload (16 MiB chunks), with no temporary file and a CRC32C check.

Run: ``.venv/bin/python benchmarks/upload_gcp.py [--data-mib 48] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "providers")]

from google.auth.credentials import AnonymousCredentials  # noqa: E402
from google.auth.transport.requests import AuthorizedSession  # noqa: E402

from lkcloud.process import run  # noqa: E402
from lkcloud_gcp import archive  # noqa: E402
from lkcloud_gcp.clients import calls_for  # noqa: E402
from lkcloud_gcp.settings import Budgets  # noqa: E402
from lkcloud_gcp.upload import SessionStore, Uploader, UploadRequest  # noqa: E402
from tests.servers.gcs_emulator import gcs_emulator, storage_client  # noqa: E402

MIB = 1 << 20


def make_disk(path: Path, data_mib: int) -> None:
    """A 2 GiB sparse disk: a third random, the rest repetitive text, spread over it."""
    rng = random.Random(1)
    text = b"".join(b"linuxkit service %d ready\n" % i for i in range(50_000))
    with path.open("wb") as fh:
        fh.truncate(2 << 30)
        for i in range(data_mib):
            fh.seek(i * 37 * MIB)
            fh.write(rng.randbytes(MIB) if i % 3 == 0 else text[:MIB])


def reference(disk: Path, work: Path, client: object, bucket: str) -> float:
    start = time.perf_counter()
    tarball = work / "disk.tar.gz"
    run(["tar", "--format=oldgnu", "-Sczf", tarball, "-C", disk.parent, disk.name])
    client.bucket(bucket).blob("reference.tar.gz").upload_from_filename(str(tarball))  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    tarball.unlink()
    return elapsed


def subject(disk: Path, work: Path, url: str, bucket: str, attempt: int) -> float:
    uploader = Uploader(AuthorizedSession(AnonymousCredentials()), url, SessionStore(work / "sessions"), 16 * MIB,
                        calls=calls_for(Budgets()))
    start = time.perf_counter()
    uploader.upload(UploadRequest(bucket, f"subject-{attempt}.tar.gz", f"bench-{attempt}"),
                    lambda: archive.gce_archive(disk))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-mib", type=int, default=48, help="MiB of data in the sparse disk")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, gcs_emulator() as url:
        work = Path(tmp)
        disk = work / "disk.raw"
        make_disk(disk, args.data_mib)
        client = storage_client(url)
        client.create_bucket("bench")
        refs, subs = [], []
        for attempt in range(args.runs):
            refs.append(reference(disk, work, client, "bench"))
            subs.append(subject(disk, work, url, "bench", attempt))
        ref, sub = statistics.median(refs), statistics.median(subs)
        print(f"disk: 2 GiB sparse, {args.data_mib} MiB of data; runs: {args.runs}")
        print(f"reference (tar -Sczf + upload_from_filename): {ref:.2f} s (median)")
        print(f"lkcloud streaming resumable upload:          {sub:.2f} s (median)")
        print(f"ratio lkcloud/reference: {sub / ref:.2f}")


if __name__ == "__main__":
    main()
