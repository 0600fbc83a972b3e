"""Boot time to a service marker under ``lkcloud run qemu``, as a ratio to a bare busybox boot.

Both are timed the same way in the same run, from QEMU's start to the marker on the serial
console, with the same kernel, memory and accelerator (TCG on hosts without usable KVM):

- reference: a busybox initrd whose /init prints a marker at once;
- subject:   ``--image PREFIX`` (NAME-kernel/-initrd.img/-cmdline, e.g. from
  ``lkcloud build examples/hello.yml``) waiting for ``--marker``; without ``--image``, a busybox
  initrd that starts a runc-less service (busybox httpd on the loopback), checks that it answers,
  then prints a marker. The ratio then measures lkcloud's launch path plus a service start.

Run: ``.venv/bin/python benchmarks/boot.py [--image PREFIX --marker REGEX] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "providers")]

from lkcloud_qemu import launch, vm  # noqa: E402
from tests.providers.qemu import guest  # noqa: E402

REFERENCE_MARKER = "BARE-BUSYBOX-UP"
SERVICE_MARKER = "BUSYBOX-SERVICE-UP"

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


def time_boot(image: str, marker: str, state_root: Path, timeout: float) -> float:
    """Seconds from QEMU's start to ``marker`` on the console."""
    prepared = vm.prepare(vm.VmOptions(image=image, accel="auto"), state_root)
    start = time.monotonic()
    launch.run_until(prepared, marker, timeout)
    return time.monotonic() - start


def build_guests(work: Path, image: str | None) -> tuple[str, str]:
    """The reference prefix and the subject prefix, sharing one kernel."""
    if image is not None:
        kernel = Path(f"{image}-kernel").resolve()
        tree = None
    else:
        tree = guest.fetch_kernel(work / "kernel")
        kernel = tree.kernel
    modules = tree or guest.KernelTree(kernel, work)
    bare = guest.make_initrd(work / "bare.img", modules, BARE_INIT, modules=())
    reference = guest.make_prefix(work / "images", "bare", kernel, bare)
    if image is not None:
        return reference, image
    service = guest.make_initrd(work / "service.img", modules, SERVICE_INIT, modules=())
    return reference, guest.make_prefix(work / "images", "service", kernel, service)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", help="NAME prefix of a kernel+initrd build to time")
    parser.add_argument("--marker", default=SERVICE_MARKER, help="console regex that means the service is up")
    parser.add_argument("--runs", type=int, default=3, help="boots of each kind (alternating)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lkcloud-bench-boot-") as tmp:
        work = Path(tmp)
        reference, subject = build_guests(work, args.image)
        ref_times, subject_times = [], []
        for run in range(args.runs):
            ref_times.append(time_boot(reference, REFERENCE_MARKER, work / "state", args.timeout))
            subject_times.append(time_boot(subject, args.marker, work / "state", args.timeout))
            print(f"run {run + 1}: bare busybox {ref_times[-1]:.2f} s, subject {subject_times[-1]:.2f} s")
    ref, sub = statistics.median(ref_times), statistics.median(subject_times)
    print(f"median boot to marker: bare busybox {ref:.2f} s, {args.image or 'busybox service'} {sub:.2f} s")
    print(f"ratio (subject / bare busybox): {sub / ref:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
