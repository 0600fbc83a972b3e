"""Boot loader files from Debian packages (syslinux, isolinux, the systemd-boot stubs).

A file for another architecture than this machine's (the arm64 UKI stub on an amd64 host) is
taken from that architecture's Debian package, downloaded and unpacked once into lkcloud's cache.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import BuildError
from lkcloud.platform import host_arch


@dataclass(frozen=True)
class BootFile:
    path: Path
    package: str  # the Debian package that installs it
    arch: str | None = None  # the architecture it boots, when it is not this machine's to install


# Every boot loader file lkcloud reads, by short name.
FILES: dict[str, BootFile] = {
    "uki-stub": BootFile(Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub"), "systemd-boot-efi", "amd64"),
    "uki-stub-arm64": BootFile(Path("/usr/lib/systemd/boot/efi/linuxaa64.efi.stub"), "systemd-boot-efi", "arm64"),
    "mbr.bin": BootFile(Path("/usr/lib/SYSLINUX/mbr.bin"), "syslinux"),
    "gptmbr.bin": BootFile(Path("/usr/lib/SYSLINUX/gptmbr.bin"), "syslinux"),
    "ldlinux.c32": BootFile(Path("/usr/lib/syslinux/modules/bios/ldlinux.c32"), "syslinux-common"),
    "isolinux.bin": BootFile(Path("/usr/lib/ISOLINUX/isolinux.bin"), "isolinux"),
    "isohdpfx.bin": BootFile(Path("/usr/lib/ISOLINUX/isohdpfx.bin"), "isolinux"),
}


def _from_debian(entry: BootFile, arch: str) -> Path:
    """``entry`` unpacked from ``arch``'s Debian package into lkcloud's cache (once per version)."""
    from lkcloud.pkg import debian
    from lkcloud.settings import user_cache_dir

    deb = debian.download(f"{entry.package}:{arch}")
    cached = user_cache_dir() / "boot" / deb.stem / entry.path.name
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cached.parent, prefix=".unpack-") as tmp:
            found = debian.extract(deb, Path(tmp)) / entry.path.relative_to("/")
            if not found.is_file():
                raise BuildError(f"{deb.name} holds no {entry.path}")
            os.replace(found, cached)
    return cached


def path(name: str) -> Path:
    """The installed path of a boot loader file (another architecture's from its Debian package),
    or a :class:`BuildError` naming its package."""
    entry = FILES[name]
    if entry.path.is_file():
        return entry.path
    if entry.arch is not None and entry.arch != str(host_arch()):
        return _from_debian(entry, entry.arch)
    raise BuildError(
        f"boot loader file {entry.path} is missing", hint=f"install it with: apt-get install {entry.package}"
    )


def require(*names: str) -> None:
    """Check every named file up front, so a build fails before it writes anything."""
    for name in names:
        path(name)


def syslinux_cfg(cmdline: str, kernel: str = "/vmlinuz", initrd: str = "/initrd.img") -> bytes:
    """A syslinux/isolinux configuration that boots at once, on the serial console too."""
    lines = [
        "SERIAL 0 115200",
        "DEFAULT linux",
        "PROMPT 0",
        "TIMEOUT 0",
        "LABEL linux",
        f"  LINUX {kernel}",
        f"  INITRD {initrd}",
        f"  APPEND {cmdline}",
    ]
    return ("\n".join(lines) + "\n").encode()


def write_boot_code(image: Path, name: str) -> None:
    """Put ``mbr.bin`` or ``gptmbr.bin`` into the first 440 bytes of the disk."""
    code = path(name).read_bytes()[:440]
    with image.open("r+b") as fh:
        fh.write(code)
