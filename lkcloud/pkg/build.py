"""``lkcloud pkg build``: a package directory in, an image in the local store (and a registry) out.

The content tag is a hash of everything that decides the image: the ``build.yml`` bytes, the
overlay files, and the exact ``.deb`` files used. Same inputs, same tag, same manifest digest.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lkcloud.oci.api import ContainerConfig
from lkcloud.oci.store import ImageStore
from lkcloud.pkg import spec as specs
from lkcloud.pkg.debs import Deb, Pool, check_arch
from lkcloud.pkg.kmod import kernel_layer
from lkcloud.pkg.layer import write_layer
from lkcloud.pkg.tree import Staged, add_libraries, add_overlay, parents, select
from lkcloud.progress import NULL, Reporter

# Bumped when the builder changes what it makes from the same inputs.
BUILDER_VERSION = "lkcloud-pkg-1"
TAG_LENGTH = 16


@dataclass(frozen=True)
class PackageOptions:
    cache: Path  # the image store (an OCI layout)
    arch: str = "amd64"
    tag: str | None = None  # replaces the content-hash tag
    push: bool = False
    deb_cache: Path | None = None  # defaults to lkcloud.pkg.debian's cache


@dataclass(frozen=True)
class PackageResult:
    directory: Path
    image: str
    refs: tuple[str, ...]  # content tag first, then the stable tag
    digest: str  # manifest digest
    index_digest: str | None  # the image index put_image wrapped it in (what is pushed)
    arch: str
    debs: tuple[Deb, ...]
    libraries: tuple[str, ...]
    pushed: tuple[str, ...] = ()  # ref@digest as pushed


def _overlay_hash(digest: hashlib._Hash, overlay: Path) -> None:
    if not overlay.is_dir():
        return
    for path in sorted(overlay.rglob("*")):
        rel = path.relative_to(overlay).as_posix()
        if path.is_symlink():
            digest.update(f"L {rel} {os.readlink(path)}\n".encode())
        elif path.is_file():
            mode = "x" if os.access(path, os.X_OK) else "-"
            digest.update(f"F {rel} {mode} {hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())


def content_tag(spec: specs.PackageSpec, debs: Sequence[Deb], arch: str) -> str:
    """A hash of the package's inputs, like LinuxKit's tree-hash tags."""
    digest = hashlib.sha256(f"{BUILDER_VERSION}\n{arch}\n".encode())
    digest.update(spec.file.read_bytes())
    _overlay_hash(digest, spec.overlay)
    for deb in debs:
        digest.update(f"D {deb.file} {deb.sha256}\n".encode())
    return digest.hexdigest()[:TAG_LENGTH]


def image_config(spec: specs.PackageSpec) -> ContainerConfig:
    return ContainerConfig(
        entrypoint=spec.entrypoint, cmd=spec.cmd, env=spec.env, working_dir=spec.workdir, labels=spec.labels
    )


def _stage(spec: specs.PackageSpec, pool: Pool, work: Path) -> tuple[Staged, list[str]]:
    if spec.kernel is not None:
        return kernel_layer(spec.kernel, pool, work, spec.file), []
    staged: Staged = {}
    for package in spec.debs:
        staged.update(select(pool.add(package), spec.keep))
    add_overlay(staged, spec.overlay)
    libraries = add_libraries(staged, pool) if spec.libraries else []
    return staged, libraries


def build_package(directory: Path, options: PackageOptions, reporter: Reporter = NULL) -> PackageResult:
    """Build one package into the store at ``options.cache``; push it too with ``options.push``."""
    spec = specs.load(directory)
    arch = check_arch(options.arch)
    reporter.step(f"pkg {spec.image}: collecting files")
    with tempfile.TemporaryDirectory(prefix="lkcloud-pkg-") as tmp:
        work = Path(tmp)
        pool = Pool(work / "debs", arch=arch, cache=options.deb_cache)
        staged, libraries = _stage(spec, pool, work)
        layer = write_layer(staged, work / "layer.tar", directories=parents(staged))
        tag = options.tag or content_tag(spec, pool.debs, arch)
        refs = tuple(dict.fromkeys([f"{spec.image}:{tag}", f"{spec.image}:{spec.tag}"]))
        store = ImageStore(options.cache, reporter=reporter)
        images = [store.put_image(ref, config=image_config(spec), layers=[layer], arch=arch) for ref in refs]
        digest, index = images[-1].manifest_digest, images[-1].index_digest
        reporter.step(f"pkg {spec.image}: {', '.join(refs)} ({digest})")
    pushed = tuple(f"{ref}@{store.push(ref)}" for ref in refs) if options.push else ()
    return PackageResult(directory, spec.image, refs, digest, index, arch, tuple(pool.debs), tuple(libraries), pushed)


def build_packages(
    directories: Sequence[Path], options: PackageOptions, reporter: Reporter = NULL
) -> list[PackageResult]:
    """Build several packages in order (one failure stops the rest)."""
    return [build_package(d, options, reporter) for d in directories]
