"""FaaS worker images for fleet tests: two releases that answer /healthz with their version, and a
broken one whose kernel panics at once. Built once per test process (packages from Debian)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lkcloud.build import BuildOptions, build
from lkcloud.pkg.build import PackageOptions, build_packages

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("kernel", "init", "runc", "metadata", "faas-runtime")
TEMPLATE = ROOT / "templates" / "faas-worker.yml"
RELEASE = """onboot:
  - name: functions
    image: lkcloud/test-functions:{tag}
    binds: [/run/functions:/run/functions]
    runtime: {{mkdir: [/run/functions]}}
files:
  - path: etc/faas/version
    contents: "{tag}"
"""
BROKEN = "kernel: {image: lkcloud/kernel:dev, cmdline: 'console=ttyS0 panic=-1'}\ninit: [lkcloud/runc:dev]\n"


@dataclass(frozen=True)
class Images:
    v1: str
    v2: str
    broken: str


def function_package(root: Path, tag: str) -> Path:
    directory = root / f"functions-{tag}"
    (directory / "rootfs" / "functions").mkdir(parents=True)
    (directory / "build.yml").write_text(
        f"image: lkcloud/test-functions\ntag: {tag}\ndebs: [busybox-static]\nkeep: [/bin/busybox]\n"
        "entrypoint: [/bin/busybox, cp, -a, /functions/., /run/functions/]\n")
    (directory / "rootfs" / "functions" / "hello").write_text(f'echo "{tag}: hello, $(cat)"\n')
    return directory


def worker(root: Path, store: Path, name: str, *files: Path) -> str:
    result = build(BuildOptions(files=files, name=name, outdir=root / "out", cache=store))
    kernel = next(p for p in result.outputs["kernel+initrd"] if p.name.endswith("-kernel"))
    return str(kernel).removesuffix("-kernel")


def build_workers(root: Path) -> Images:
    """Build the worker packages, two releases and a broken image under ``root``."""
    store = root / "store"
    dirs = [ROOT / "pkg" / name for name in PACKAGES] + [function_package(root, t) for t in ("v1", "v2")]
    build_packages(dirs, PackageOptions(cache=store))
    for tag in ("v1", "v2"):
        (root / f"release-{tag}.yml").write_text(RELEASE.format(tag=tag))
    (root / "broken.yml").write_text(BROKEN)
    return Images(v1=worker(root, store, "worker-v1", TEMPLATE, root / "release-v1.yml"),
                  v2=worker(root, store, "worker-v2", TEMPLATE, root / "release-v2.yml"),
                  broken=worker(root, store, "broken", root / "broken.yml"))


