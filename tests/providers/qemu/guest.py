"""Test guests: Debian's cloud kernel and a busybox initrd whose /init follows ``lkmode=`` on the
kernel command line. Shared by the boot tests and benchmarks/boot.py.

Modes: ``marker`` (default) prints MARKER and powers off; ``panic`` exits init (a kernel panic);
``http`` loads virtio-net, serves /www with busybox httpd on port 80 and prints HTTP_READY;
``cidata`` loads the CD-ROM modules, mounts /dev/sr0 and prints its user-data between markers.
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from lkcloud.pkg import debian
from lkcloud.process import run, which

MARKER = "LKCLOUD-TEST-BOOT-OK"
HTTP_READY = "LKCLOUD-TEST-HTTPD-READY"
HTTP_BODY = "hello from the guest"
CIDATA_BEGIN = "LKCLOUD-CIDATA-BEGIN"
CIDATA_END = "LKCLOUD-CIDATA-END"
CMDLINE = "console=ttyS0 quiet panic=-1"

# Module load order (dependencies first), from the modules' own depends= fields.
NET_MODULES = ("virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci",
               "failover", "net_failover", "virtio_net")
CD_MODULES = ("scsi_common", "scsi_mod", "libata", "ata_piix", "cdrom", "sr_mod", "isofs")

INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mode=marker
for word in $(cat /proc/cmdline); do
  case "$word" in lkmode=*) mode="${{word#lkmode=}}" ;; esac
done
load() {{ for m in "$@"; do insmod /lib/modules/$m.ko; done; }}
case "$mode" in
  panic) echo "init: exiting on purpose"; exit 1 ;;
  http)
    load {" ".join(NET_MODULES)}
    ifconfig lo 127.0.0.1 up
    ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up
    route add default gw 10.0.2.2
    mkdir -p /www && echo "{HTTP_BODY}" > /www/index.html
    httpd -p 80 -h /www
    echo {HTTP_READY}
    while true; do sleep 3600; done ;;
  cidata)
    load {" ".join(CD_MODULES)}
    mkdir -p /mnt
    for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/sr0 ] && break; sleep 0.2; done
    mount -t iso9660 -o ro /dev/sr0 /mnt
    echo {CIDATA_BEGIN}; cat /mnt/user-data; echo; echo {CIDATA_END}
    poweroff -f ;;
  *) echo {MARKER}; poweroff -f ;;
esac
"""


@dataclass(frozen=True)
class KernelTree:
    kernel: Path
    modules: Path  # lib/modules/<version>/kernel
    busybox: Path | None = None  # a static busybox of the kernel's architecture (None: this machine's)


def fetch_kernel(dest: Path, arch: str = "amd64") -> KernelTree:
    """Debian's cloud kernel for ``arch``, unpacked under ``dest`` (the .deb is cached across
    runs), with Debian's static busybox of that architecture when it is not this machine's."""
    package = debian.resolve_alias(f"linux-image-cloud-{arch}", arch)
    tree = debian.extract(debian.download(f"{package}:{arch}"), dest)
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    modules = sorted((tree / "lib" / "modules").glob("*/kernel"))
    assert kernels and modules, f"no kernel in {package}"
    busybox = None
    if arch != str(debian.host_arch()):
        busybox = debian.extract(debian.download(f"busybox-static:{arch}"), dest / "busybox") / "bin" / "busybox"
    return KernelTree(kernels[-1], modules[-1], busybox)


def _newc(tree: Path) -> bytes:
    names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    listing = ("\n".join(names) + "\n").encode()
    return run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"], cwd=tree, input=listing).stdout


def make_initrd(dest: Path, kernel: KernelTree, init: str = INIT,
                modules: tuple[str, ...] = NET_MODULES + CD_MODULES) -> Path:
    """A gzip newc initrd: static busybox, ``init`` as /init, and the named modules."""
    tree = dest.parent / f".{dest.name}.tree"
    shutil.rmtree(tree, ignore_errors=True)
    for sub in ("bin", "proc", "sys", "dev", "lib/modules", "mnt"):
        (tree / sub).mkdir(parents=True)
    shutil.copy(kernel.busybox or which("busybox"), tree / "bin" / "busybox")
    (tree / "init").write_text(init)
    (tree / "init").chmod(0o755)
    for name in modules:
        found = next(kernel.modules.rglob(f"{name}.ko"))
        shutil.copy(found, tree / "lib" / "modules" / found.name)
    for path in tree.rglob("*"):
        os.utime(path, (0, 0), follow_symlinks=False)
    dest.write_bytes(gzip.compress(_newc(tree), mtime=0))
    shutil.rmtree(tree)
    return dest


def make_prefix(directory: Path, name: str, kernel: Path, initrd: Path, cmdline: str = CMDLINE) -> str:
    """Lay out NAME-kernel, NAME-initrd.img, NAME-cmdline (as ``lkcloud build`` does); returns the prefix."""
    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory / name
    for suffix, source in (("-kernel", kernel), ("-initrd.img", initrd)):
        target = Path(f"{prefix}{suffix}")
        target.unlink(missing_ok=True)
        target.symlink_to(source)
    Path(f"{prefix}-cmdline").write_text(cmdline + "\n")
    return str(prefix)


def is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)
