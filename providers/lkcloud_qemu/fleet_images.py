"""What a fleet boots: ``--image`` resolved to an immutable, content-addressed local image.

``--image`` is an image file (disk or ISO), the NAME prefix of a kernel+initrd build, or LinuxKit
YAML (built first with :func:`lkcloud.build.build`). The result is stored in the image directory
under a name carrying its content digest, so a rebuild never changes what a running VM boots and
the same content is stored once: a kernel+initrd as ``<name>-<digest>-kernel``, ``-initrd.img``
and ``-cmdline`` (the image id is the ``<images>/<name>-<digest>`` prefix); a disk or ISO as
``lkcloud push qemu`` stores it.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

from lkcloud.artifact import from_file
from lkcloud.build import BuildOptions, build, default_name
from lkcloud.errors import UsageError
from lkcloud.fsutil import atomic_path
from lkcloud.progress import NULL, Reporter
from lkcloud_qemu import image, images

YAML_SUFFIXES = (".yml", ".yaml")
KERNEL_PARTS = ("-kernel", "-initrd.img", "-cmdline")
BUILD_FORMAT = "kernel+initrd"


def is_config(value: str) -> bool:
    """Whether ``value`` names LinuxKit YAML (built before it is booted)."""
    return value.endswith(YAML_SUFFIXES)


def build_configs(files: Sequence[Path], outdir: Path, reporter: Reporter = NULL,
                  cache: Path | None = None) -> str:
    """Build LinuxKit YAML (merged in order) into kernel+initrd; returns the NAME prefix."""
    name = default_name(files[0])
    reporter.step(f"building {' + '.join(str(f) for f in files)}")
    result = build(BuildOptions(files=tuple(files), formats=(BUILD_FORMAT,), name=name, outdir=outdir,
                                cache=cache), reporter)
    kernel = next(p for p in result.outputs[BUILD_FORMAT] if p.name.endswith("-kernel"))
    return str(kernel)[: -len("-kernel")]


def _kernel_digest(prefix: str) -> str:
    digest = hashlib.sha256()
    for part in KERNEL_PARTS:
        path = Path(prefix + part)
        digest.update(f"{part}\n".encode())
        if path.is_file():
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def _store_kernel(source: image.BootSource, store: Path, reporter: Reporter) -> str:
    prefix = str(source.path)[: -len("-kernel")]
    if source.path.parent.resolve() == store.resolve():
        return prefix  # already stored
    stored = store / f"{source.name}-{_kernel_digest(prefix)[:images.DIGEST_CHARS]}"
    for part in KERNEL_PARTS:
        src, dest = Path(prefix + part), Path(f"{stored}{part}")
        if src.is_file() and not dest.is_file():
            reporter.step(f"storing {src.name} as {dest}")
            with atomic_path(dest) as tmp:
                shutil.copyfile(src, tmp)
    return str(stored)


def store(value: str, store_dir: Path, reporter: Reporter = NULL) -> str:
    """Store an image file or NAME prefix (content-addressed) and return its image id."""
    source = image.resolve(value)
    if source.kind is image.SourceKind.KERNEL:
        return _store_kernel(source, store_dir, reporter)
    if source.path.parent.resolve() == store_dir.resolve():
        return str(source.path)
    return images.push(from_file(source.path), store_dir, reporter).image_id


def resolve(values: Sequence[str], store_dir: Path, build_dir: Path, reporter: Reporter = NULL,
            cache: Path | None = None) -> str:
    """The image id for ``--image``: one image file or prefix, or one or more YAML files."""
    if values and all(is_config(v) for v in values):
        prefix = build_configs([Path(v) for v in values], build_dir, reporter, cache)
        return store(prefix, store_dir, reporter)
    if len(values) != 1:
        raise UsageError(f"--image {', '.join(values)}: give one image, or LinuxKit YAML files to build")
    return store(values[0], store_dir, reporter)


def display(image_id: str) -> str:
    """A short form of an image id for tables: the stored file name without the directory."""
    return Path(image_id).name
