"""Boot loader files from Debian packages (syslinux, isolinux, the systemd-boot stub)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import BuildError


@dataclass(frozen=True)
class BootFile:
    path: Path
    package: str  # the Debian package that installs it


# Every boot loader file lkcloud reads, by short name.
FILES: dict[str, BootFile] = {
    "uki-stub": BootFile(Path("/usr/lib/systemd/boot/efi/linuxx64.efi.stub"), "systemd-boot-efi"),
    "mbr.bin": BootFile(Path("/usr/lib/SYSLINUX/mbr.bin"), "syslinux"),
    "gptmbr.bin": BootFile(Path("/usr/lib/SYSLINUX/gptmbr.bin"), "syslinux"),
    "ldlinux.c32": BootFile(Path("/usr/lib/syslinux/modules/bios/ldlinux.c32"), "syslinux-common"),
    "isolinux.bin": BootFile(Path("/usr/lib/ISOLINUX/isolinux.bin"), "isolinux"),
    "isohdpfx.bin": BootFile(Path("/usr/lib/ISOLINUX/isohdpfx.bin"), "isolinux"),
}


def path(name: str) -> Path:
    """The installed path of a boot loader file, or a :class:`BuildError` naming its package."""
    entry = FILES[name]
    if not entry.path.is_file():
        raise BuildError(
            f"boot loader file {entry.path} is missing", hint=f"install it with: apt-get install {entry.package}"
        )
    return entry.path


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
