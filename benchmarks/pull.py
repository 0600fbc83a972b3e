"""Cold pull throughput: lkcloud's registry client + cache vs curl fetching the same blobs.

Generates layers of random (incompressible) data totalling >= 200 MB once per run, pushes them
to a local ``docker-registry``, then times a cold ``ImageStore.get`` (download, digest checks,
atomic writes) and ``curl`` fetching the same blobs to files, in the same run.

    .venv/bin/python benchmarks/pull.py [--mb 200] [--layers 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lkcloud.oci import media  # noqa: E402
from lkcloud.oci.registry import RegistryClient, RegistryOptions  # noqa: E402
from lkcloud.oci.store import ImageStore  # noqa: E402
from lkcloud.process import run  # noqa: E402
from tests.servers.registry import run_registry  # noqa: E402

OPTIONS = RegistryOptions(use_env=False)


def make_layers(workdir: Path, total_mb: int, count: int) -> list[Path]:
    """``count`` files of random bytes (stored as uncompressed layers; random data does not compress)."""
    size = total_mb * 1024 * 1024 // count
    paths = []
    for i in range(count):
        path = workdir / f"layer-{i}.bin"
        with path.open("wb") as out:
            for _ in range(size // (1 << 20)):
                out.write(os.urandom(1 << 20))
        paths.append(path)
    return paths


def push(host: str, layers: list[Path]) -> list[tuple[str, int]]:
    client = RegistryClient(host, OPTIONS)
    blobs = []
    for path in layers:
        digest = media.sha256(path.read_bytes())
        client.push_blob("bench/pull", digest, path)
        blobs.append((digest, path.stat().st_size))
    config = b'{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}'
    client.push_blob("bench/pull", media.sha256(config), config)
    layer_docs = ",".join(f'{{"mediaType":"{media.OCI_LAYER}","digest":"{d}","size":{s}}}' for d, s in blobs)
    manifest = (f'{{"schemaVersion":2,"mediaType":"{media.OCI_MANIFEST}","config":{{"mediaType":"{media.OCI_CONFIG}",'
                f'"digest":"{media.sha256(config)}","size":{len(config)}}},"layers":[{layer_docs}]}}').encode()
    client.push_manifest("bench/pull", "1", manifest, media.OCI_MANIFEST)
    return blobs


def time_lkcloud(host: str, cache: Path) -> float:
    start = time.perf_counter()
    ImageStore(cache, registry=OPTIONS).get(f"{host}/bench/pull:1")
    return time.perf_counter() - start


def time_curl(host: str, blobs: list[tuple[str, int]], out: Path) -> float:
    argv: list[str] = ["curl", "-sSf"]
    for i, (digest, _) in enumerate(blobs):
        argv += ["-o", str(out / f"blob-{i}"), f"http://{host}/v2/bench/pull/blobs/{digest}"]
    start = time.perf_counter()
    run(argv)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="total layer size in MiB (default 200)")
    parser.add_argument("--layers", type=int, default=4, help="number of layers (default 4)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-") as tmp:
        work = Path(tmp)
        layers = make_layers(work, args.mb, args.layers)
        servers = run_registry(work / "registry")
        server = next(servers)
        try:
            blobs = push(server.host, layers)
            total = sum(size for _, size in blobs)
            # Alternate, twice each, and keep the best: neither side gets a warmer registry.
            curls, ours_runs = [], []
            for round_ in range(2):
                (work / f"curl{round_}").mkdir()
                curls.append(time_curl(server.host, blobs, work / f"curl{round_}"))
                ours_runs.append(time_lkcloud(server.host, work / f"cache{round_}"))
                for path in [*(work / f"curl{round_}").iterdir(), *(work / f"cache{round_}").rglob("*")]:
                    if path.is_file():
                        path.unlink()
            curl, ours = min(curls), min(ours_runs)
        finally:
            servers.close()
    mib = total / (1 << 20)
    print(f"cold pull of {mib:.0f} MiB in {len(blobs)} layers")
    print(f"  lkcloud  {ours:6.2f} s  {mib / ours:7.1f} MiB/s  (download + sha256 + atomic write)")
    print(f"  curl     {curl:6.2f} s  {mib / curl:7.1f} MiB/s  (download to files)")
    print(f"  ratio lkcloud/curl time: {ours / curl:.2f}x")


if __name__ == "__main__":
    main()
