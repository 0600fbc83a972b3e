"""examples/hello.yml built from lkcloud's own packages: the system every boot test boots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lkcloud.build import BuildOptions, build
from lkcloud.pkg.build import PackageOptions, build_packages

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kernel", "init", "runc", "hello-onboot", "hello-service")
ONBOOT_MARKER = "hello from onboot"
SERVICE_MARKER = "hello from service"


@dataclass(frozen=True)
class Hello:
    prefix: Path  # NAME prefix of NAME-kernel, NAME-initrd.img, NAME-cmdline
    kernel: Path
    initrd: Path
    cmdline: str
    cache: Path  # the image store holding the packages


def build_example(work: Path, example: str, packages: tuple[str, ...], *, arch: str = "amd64",
                  formats: tuple[str, ...] = ("kernel+initrd",)) -> Hello:
    """Build packages of pkg/ (Debian .debs cached under ~/.cache) and examples/EXAMPLE.yml."""
    cache = work / "store"
    build_packages([ROOT / "pkg" / name for name in packages], PackageOptions(cache=cache, arch=arch))
    out = work / "out"
    build(BuildOptions(files=(ROOT / "examples" / f"{example}.yml",), outdir=out, cache=cache, name=example,
                       arch=arch, formats=formats))
    prefix = out / example
    return Hello(prefix, Path(f"{prefix}-kernel"), Path(f"{prefix}-initrd.img"),
                 Path(f"{prefix}-cmdline").read_text().strip(), cache)


def build_hello(work: Path) -> Hello:
    """examples/hello.yml and the packages it uses."""
    return build_example(work, "hello", PACKAGES)


def build_hello_arm64(work: Path) -> Hello:
    """examples/hello.yml for arm64 (packages from Debian's arm64 .debs): kernel+initrd and raw-efi
    (``prefix`` + ``-efi.img``)."""
    return build_example(work, "hello", PACKAGES, arch="arm64", formats=("kernel+initrd", "raw-efi"))
