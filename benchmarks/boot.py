"""Boot time to a service marker under ``lkcloud run qemu``, as a ratio to a bare busybox boot,
for amd64 and arm64 side by side (arm64 on the virt board; both TCG on hosts without usable KVM).

For each architecture both are timed the same way in the same run, from QEMU's start to the marker
on the serial console, with the same kernel (Debian's cloud kernel of that architecture), memory
and accelerator:

- reference: a busybox initrd whose /init prints a marker at once;
- subject:   ``--image PREFIX`` (amd64) or ``--arm64-image PREFIX`` (NAME-kernel/-initrd.img/-cmdline,
  e.g. from ``lkcloud build [--arch arm64] examples/hello.yml``) waiting for ``--marker``; without
  one, a busybox initrd that starts a runc-less service (busybox httpd on the loopback), checks
  that it answers, then prints a marker. The ratio then measures lkcloud's launch path plus a
  service start.

The last line compares the architectures: arm64's subject time over amd64's (the cost of
emulating arm64 here, not a property of arm64 machines).

Run: ``.venv/bin/python benchmarks/boot.py [--arch amd64 --arch arm64] [--image PREFIX]
[--arm64-image PREFIX] [--marker REGEX] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "providers")]

from lkcloud.platform import host_arch  # noqa: E402
from lkcloud_qemu import launch, vm  # noqa: E402
from tests.providers.qemu import guest  # noqa: E402

REFERENCE_MARKER = "BARE-BUSYBOX-UP"
SERVICE_MARKER = "BUSYBOX-SERVICE-UP"
ARCHES = ("amd64", "arm64")

BARE_INIT = f"""#!/bin/busybox sh
/bin/busybox echo {REFERENCE_MARKER}
/bin/busybox poweroff -f
"""

SERVICE_INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
ifconfig lo 127.0.0.1 up
mkdir -p /www && echo ok > /www/index.html
httpd -p 127.0.0.1:80 -h /www
until wget -q -O- http://127.0.0.1/ >/dev/null 2>&1; do sleep 0.05; done
echo {SERVICE_MARKER}
poweroff -f
"""


@dataclass(frozen=True)
class Guests:
    arch: str
    reference: str  # NAME prefix of the bare busybox boot
    subject: str  # NAME prefix of what is measured
    marker: str


@dataclass(frozen=True)
class Timings:
    reference: float  # median seconds
    subject: float

    @property
    def ratio(self) -> float:
        return self.subject / self.reference


def time_boot(image: str, marker: str, state_root: Path, timeout: float) -> float:
    """Seconds from QEMU's start to ``marker`` on the console (the architecture is the kernel's)."""
    prepared = vm.prepare(vm.VmOptions(image=image, accel="auto"), state_root)
    start = time.monotonic()
    launch.run_until(prepared, marker, timeout)
    return time.monotonic() - start


def build_guests(work: Path, arch: str, image: str | None, marker: str) -> Guests:
    """The reference prefix and the subject prefix of ``arch``, sharing one kernel."""
    work = work / arch
    tree = guest.fetch_kernel(work / "kernel", arch)
    kernel = Path(f"{image}-kernel").resolve() if image is not None else tree.kernel
    bare = guest.make_initrd(work / "bare.img", tree, BARE_INIT, modules=())
    reference = guest.make_prefix(work / "images", "bare", kernel, bare)
    if image is not None:
        return Guests(arch, reference, image, marker)
    service = guest.make_initrd(work / "service.img", tree, SERVICE_INIT, modules=())
    return Guests(arch, reference, guest.make_prefix(work / "images", "service", kernel, service), SERVICE_MARKER)


def measure(guests: Guests, runs: int, state: Path, timeout: float) -> Timings:
    ref_times, subject_times = [], []
    for run in range(runs):
        ref_times.append(time_boot(guests.reference, REFERENCE_MARKER, state, timeout))
        subject_times.append(time_boot(guests.subject, guests.marker, state, timeout))
        print(f"{guests.arch} run {run + 1}: bare busybox {ref_times[-1]:.2f} s, subject {subject_times[-1]:.2f} s")
    return Timings(statistics.median(ref_times), statistics.median(subject_times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", action="append", choices=ARCHES, help="architectures to time (default: both)")
    parser.add_argument("--image", help="NAME prefix of an amd64 kernel+initrd build to time")
    parser.add_argument("--arm64-image", help="NAME prefix of an arm64 kernel+initrd build to time")
    parser.add_argument("--marker", default=SERVICE_MARKER, help="console regex that means the service is up")
    parser.add_argument("--runs", type=int, default=3, help="boots of each kind (alternating)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    images = {"amd64": args.image, "arm64": args.arm64_image}
    results: dict[str, Timings] = {}
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-boot-") as tmp:
        work = Path(tmp)
        for arch in args.arch or ARCHES:
            guests = build_guests(work, arch, images[arch], args.marker)
            results[arch] = measure(guests, args.runs, work / "state", args.timeout)
    print(f"median boot to marker (host {host_arch()}):")
    for arch, timing in results.items():
        subject = images[arch] or "busybox service"
        print(f"  {arch}: bare busybox {timing.reference:.2f} s, {subject} {timing.subject:.2f} s, "
              f"ratio (subject / bare busybox) {timing.ratio:.2f}")
    if len(results) == len(ARCHES):
        print(f"arm64 / amd64 (subject): {results['arm64'].subject / results['amd64'].subject:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
