"""The release loop on AWS against the extended moto server: change one function, build, push, roll.

A fleet file (provider aws) for the FaaS worker (templates/faas-worker.yml plus a copy of
examples/functions, as examples/fleet.yml) is carried out twice, the second time after the hello
function's script changed: each time its package and its image are built and pushed as
``lkcloud fleet create|refresh FLEET.yml`` does (lkcloud.fleet.deploy: the function package, the
``aws`` image, ``push aws``), then the fleet is created (first release) or refreshed onto the new
image (second). The worker's base packages are built first, untimed. Printed, measured in the
same run:

- bytes the second push sent / bytes the first sent (at the server: PutSnapshotBlock bodies;
  target under 5 %);
- time of the second build + push / the first (target under 25 %), with each step's time.

On loopback the push is nearly free, so the build dominates both times; ``--uplink-mbit N``
(repeatable; 0 is loopback, the default) runs the loop again over a modelled uplink of N Mbit/s
that the block data shares (the server's ``uplink_bytes_per_second``), as from a workstation or a
CI runner to AWS, each run on an emptied server.

Run: .venv/bin/python benchmarks/release_aws.py [--store DIR] [--uplink-mbit 0 --uplink-mbit 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "providers")]

from lkcloud.fleet import deploy  # noqa: E402
from lkcloud.fleet.file import FleetFile, load  # noqa: E402
from lkcloud.pkg.build import PackageOptions, build_packages  # noqa: E402
from lkcloud.provider import release  # noqa: E402
from lkcloud.provider.registry import load as load_provider  # noqa: E402
from lkcloud.provider.types import PushResult  # noqa: E402
from tests.servers import moto_server  # noqa: E402
from tests.support.net import free_port, stop, wait_for_port  # noqa: E402

PACKAGES = ("kernel", "init", "runc", "metadata", "faas-runtime")
FLEET = """name: bench
provider: aws
image: [{template}, functions/worker.yml]
packages: [functions/hello]
size: 2
update: {{max_surge: 1, max_unavailable: 0, min_healthy_percent: 50, warmup_seconds: 0, pause_seconds: 0}}
"""


def post(endpoint: str, path: str, body: dict[str, Any] | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else b""
    with urllib.request.urlopen(urllib.request.Request(endpoint + path, data=data), timeout=10):
        pass


def counts(endpoint: str, reset: bool = False) -> dict[str, Any]:
    path = "/_lkcloud/reset-counts" if reset else "/_lkcloud/counts"
    request = urllib.request.Request(endpoint + path, data=b"" if reset else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def put_bytes(endpoint: str) -> int:
    """Bytes of block data the server received in PutSnapshotBlock requests since the last reset."""
    return sum(counts(endpoint)["puts"].values()) * 524288


def workspace(work: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "functions", work / "functions")
    fleet = work / "fleet.yml"
    fleet.write_text(FLEET.format(template=ROOT / "templates" / "faas-worker.yml"))
    return fleet


def change_function(work: Path, greeting: str) -> None:
    script = work / "functions" / "hello" / "rootfs" / "functions" / "hello"
    script.write_text(script.read_text().replace('echo "hello, ', f'echo "{greeting}, '))


def build_and_push(fleet: FleetFile, provider: Any) -> tuple[PushResult, dict[str, float]]:
    """What deploy.image_for does for a fleet file that builds, step by step, timed."""
    times = {}
    started = time.monotonic()
    deploy.build_packages(fleet)
    times["package"] = time.monotonic() - started
    source = release.Source(configs=tuple(Path(f) for f in fleet.image))
    artifact = release.artifact(provider, source, arch=fleet.arch)
    times["image"] = time.monotonic() - started - times["package"]
    result = provider.push(artifact)
    times["push"] = time.monotonic() - started - times["package"] - times["image"]
    return result, times


def environment(endpoint: str, work: Path, store: Path) -> None:
    for name in [n for n in os.environ if n.startswith(("AWS_", "LKCLOUD_"))]:
        del os.environ[name]
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                      AWS_CONFIG_FILE=str(work / "no-config"), AWS_SHARED_CREDENTIALS_FILE=str(work / "no-creds"),
                      LKCLOUD_CACHE=str(store), LKCLOUD_AWS_JOURNAL_DIR=str(work / "journal"),
                      LKCLOUD_AWS_POLL_SECONDS="0.05")


def loop(work: Path, endpoint: str) -> list[tuple[PushResult, dict[str, float], int]]:
    """Both releases: build, push, then create or refresh the fleet."""
    path = workspace(work)
    pushes = []
    for number, greeting in ((1, "hello"), (2, "hello again, from the second release")):
        change_function(work, greeting)
        fleet = load(path)
        provider = load_provider(fleet.provider)
        counts(endpoint, reset=True)
        result, times = build_and_push(fleet, provider)
        pushes.append((result, times, put_bytes(endpoint)))
        if number == 1:
            status = provider.fleet_create(deploy.spec(fleet, result.id))
            print(f"release 1: fleet {status.name} created on {result.id}, {status.size} instances", flush=True)
        else:
            refreshed = provider.fleet_refresh(fleet.name, result.id, fleet.user_data, fleet.update)
            print(f"release 2: fleet refreshed onto {result.id}: {refreshed.succeeded}", flush=True)
    return pushes


def report(pushes: list[tuple[PushResult, dict[str, float], int]], mbit: int) -> None:
    print(f"-- {'loopback' if not mbit else f'uplink of {mbit} Mbit/s (modelled)'}:")
    for number, (result, times, sent) in enumerate(pushes, 1):
        upload = result.details.get("upload", {})
        print(f"release {number}: {sum(times.values()):6.2f} s (function package {times['package']:.2f} s,"
              f" image {times['image']:.2f} s, push {times['push']:.2f} s); {upload.get('sent')} blocks sent"
              f" ({sent / (1 << 20):.1f} MiB), {upload.get('unchanged', 0)} unchanged;"
              f" parent {result.parent or '-'}")
    (_, first_times, first_bytes), (_, second_times, second_bytes) = pushes
    print(f"bytes sent, second push / first: {second_bytes / first_bytes:.4f} (target < 0.05)")
    ratio = sum(second_times.values()) / sum(first_times.values())
    print(f"time of build + push, second / first: {ratio:.4f} (target < 0.25)")
    push_ratio = second_times["push"] / first_times["push"]
    print(f"  of which the push alone, second / first: {push_ratio:.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="image store for the worker's packages (kept between runs)")
    parser.add_argument("--uplink-mbit", type=int, action="append", help="modelled uplink, Mbit/s (0: loopback)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-release-") as tmp:
        store = (args.store or Path(tmp) / "store").resolve()
        print("building the worker's packages (untimed) ...", flush=True)
        build_packages([ROOT / "pkg" / name for name in PACKAGES], PackageOptions(cache=store))
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        proc = moto_server.start(port, Path(tmp) / "moto.log")
        cwd = Path.cwd()
        results = []
        try:
            wait_for_port(port, 60, proc)
            for mbit in args.uplink_mbit or [0]:
                work = Path(tmp) / f"uplink-{mbit}"
                work.mkdir()
                post(endpoint, "/moto-api/reset")
                post(endpoint, "/_lkcloud/reset")
                post(endpoint, "/_lkcloud/behave", {"uplink_bytes_per_second": mbit * 125000})
                environment(endpoint, work, store)
                os.chdir(work)
                results.append((loop(work, endpoint), mbit))
        finally:
            os.chdir(cwd)
            stop(proc)
        for pushes, mbit in results:
            report(pushes, mbit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
