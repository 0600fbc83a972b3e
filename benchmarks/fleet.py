"""Refreshing a local fleet of 2 FaaS workers to a new image, against two plain boots to health.

    .venv/bin/python benchmarks/fleet.py

Builds the packages and two worker images (templates/faas-worker.yml + a release with a changed
function), then measures in the same run:

- reference: ``qemu-system-x86_64`` started by hand, twice in a row, each until the worker's
  ``/healthz`` answers (the plain tool doing one VM's share of a refresh);
- lkcloud: ``fleet_refresh`` of a 2-VM local fleet to the new image (start a VM, wait for its
  health check, stop the one it replaces; twice).

A ratio near 1 means the rolling update costs little beyond the boots it must do.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from lkcloud.build import BuildOptions, build
from lkcloud.fleet.defaults import defaults
from lkcloud.pkg.build import PackageOptions, build_packages
from lkcloud.process import spawn
from lkcloud.provider.types import FleetSpec
from lkcloud.settings import cache_dir
from lkcloud_qemu.config import load
from lkcloud_qemu.provider import QemuProvider
from lkcloud_qemu.vm import free_port

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("kernel", "init", "runc", "metadata", "faas-runtime")
HEALTH_DEADLINE = 300.0


def release(work: Path, store: Path, version: str) -> str:
    """A worker image whose hello function and version say ``version``; returns its NAME prefix."""
    functions = shutil.copytree(ROOT / "examples" / "functions", work / f"functions-{version}")
    script = functions / "hello" / "rootfs" / "functions" / "hello"
    script.write_text(script.read_text().replace('echo "hello, ', f'echo "{version}: hello, '))
    # Own image name and tag, so that the cache's lkcloud/faas-hello:dev is left alone.
    spec = functions / "hello" / "build.yml"
    spec.write_text(spec.read_text().replace("image: lkcloud/faas-hello", "image: lkcloud/bench-hello")
                    .replace("tag: dev", f"tag: {version}"))
    overlay = functions / "worker.yml"
    overlay.write_text(overlay.read_text().replace('contents: "1"', f'contents: "{version}"')
                       .replace("lkcloud/faas-hello:dev", f"lkcloud/bench-hello:{version}"))
    build_packages([functions / "hello"], PackageOptions(cache=store))
    result = build(BuildOptions(files=(ROOT / "templates" / "faas-worker.yml", overlay), name=f"worker-{version}",
                                outdir=work / "out", cache=store))
    kernel = next(p for p in result.outputs["kernel+initrd"] if p.name.endswith("-kernel"))
    return str(kernel).removesuffix("-kernel")


def healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().read().startswith(b"ok")
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def plain_boot(prefix: str) -> float:
    """Seconds from starting a hand-written QEMU command line to a healthy /healthz."""
    port = free_port()
    cmdline = Path(f"{prefix}-cmdline").read_text().strip()
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-display", "none", "-no-reboot",
            "-kernel", f"{prefix}-kernel", "-initrd", f"{prefix}-initrd.img", "-append", cmdline,
            "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:8080", "-serial", "null"]
    start = time.monotonic()
    proc = spawn(argv, stdout=subprocess.DEVNULL)
    try:
        waiting = Retrying(stop=stop_after_delay(HEALTH_DEADLINE), wait=wait_fixed(0.5),
                           retry=retry_if_result(lambda ok: not ok), reraise=True)
        if not waiting(healthy, port):
            raise SystemExit("the reference VM never became healthy")
        return time.monotonic() - start
    finally:
        proc.kill()
        proc.wait()


def main() -> int:
    store = cache_dir()
    print("building packages and two worker releases ...", flush=True)
    build_packages([ROOT / "pkg" / name for name in PACKAGES], PackageOptions(cache=store))
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-fleet-") as tmp:
        work = Path(tmp)
        v1, v2 = release(work, store, "b1"), release(work, store, "b2")
        boots = [plain_boot(v2) for _ in range(2)]
        print(f"reference: two plain QEMU boots to /healthz: {boots[0]:.1f} s + {boots[1]:.1f} s", flush=True)
        provider = QemuProvider(load(state_root=work / "state", images=work / "images", accel="tcg"))
        provider.fleet_create(FleetSpec(name="bench", image=v1, size=2, policy=defaults("qemu").update,
                                        health=defaults("qemu").health))
        try:
            start = time.monotonic()
            result = provider.fleet_refresh("bench", v2)
            elapsed = time.monotonic() - start
        finally:
            provider.fleet_delete("bench")
    if not result.succeeded:
        raise SystemExit(f"the refresh failed: {result.message}")
    print(f"lkcloud: refresh of a 2-VM fleet to a new image: {elapsed:.1f} s")
    print(f"ratio (refresh / two boots): {elapsed / sum(boots):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
