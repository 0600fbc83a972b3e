"""``lkcloud build``: LinuxKit YAML in, output formats out.

The root filesystem tar is assembled once in a private work directory next to the outputs, the
kernel+initrd made from it once, and every format written from those into a staging directory;
only when all succeeded are the outputs renamed into place, so a failed or interrupted build
leaves nothing under the final names.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lkcloud import formats as format_table
from lkcloud.errors import UsageError
from lkcloud.formats.arches import check_formats
from lkcloud.progress import NULL, Reporter


@dataclass(frozen=True)
class BuildOptions:
    files: tuple[Path, ...]
    formats: tuple[str, ...] = ("kernel+initrd",)
    name: str | None = None  # defaults to the first file's base name
    outdir: Path = Path(".")
    arch: str = "amd64"
    cache: Path | None = None  # defaults to settings.cache_dir()
    pull: bool = False
    compression: str = "gzip"  # gzip | zstd | xz | none
    size: int | None = None  # disk size in bytes, where the format takes one


@dataclass(frozen=True)
class BuildResult:
    name: str
    outputs: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # format -> files
    digests: dict[str, str] = field(default_factory=dict)  # image ref -> manifest digest used


def default_name(path: Path) -> str:
    """The output base name LinuxKit derives from a config file: its name without extension."""
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def build(options: BuildOptions, reporter: Reporter = NULL) -> BuildResult:
    """Build every requested format; the kernel+initrd is built once and shared."""
    from lkcloud.assemble import Assembly, assemble
    from lkcloud.assemble.image import StoreImages
    from lkcloud.assemble.stream import TarSink, generated_mtime
    from lkcloud.initrd import build_initrd, check_compression
    from lkcloud.oci.store import ImageStore
    from lkcloud.settings import cache_dir
    from lkcloud.spec.load import load_files

    if not options.files:
        raise UsageError("no configuration file given")
    wanted = [format_table.get(name) for name in dict.fromkeys(options.formats)]
    check_formats(options.arch, wanted)
    check_compression(options.compression)
    name = options.name or default_name(options.files[0])
    config = load_files(list(options.files))
    store = ImageStore(cache_dir(flag=options.cache), reporter=reporter)
    images = StoreImages(store, arch=options.arch, pull=options.pull)
    mtime = generated_mtime()
    options.outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=options.outdir, prefix=f".{name}.build-") as tmp:
        work = Path(tmp)
        staged = work / "out"
        staged.mkdir()
        rootfs = work / "rootfs.tar"
        reporter.step(f"assembling {name}")
        with rootfs.open("wb") as fh:
            sink = TarSink(fh)
            assemble(config, Assembly(images=images, reporter=reporter, mtime=mtime), sink.add)
            sink.close()
        inputs = format_table.BuildInputs(name=name, outdir=staged, workdir=work, cmdline="", arch=options.arch,
                                          rootfs_tar=rootfs, size=options.size, source_date_epoch=mtime)
        if any(fmt.needs_kernel for fmt in wanted):
            reporter.step(f"writing the initrd ({options.compression})")
            parts = build_initrd(rootfs, work, compression=options.compression, members=sink.members,
                                 dir_mtime=mtime)
            inputs = dataclasses.replace(inputs, cmdline=parts.cmdline, kernel=parts.kernel, initrd=parts.initrd,
                                         initrd_only=parts.initrd_only, ucode=parts.ucode,
                                         kernel_digest=parts.kernel_digest, initrd_digest=parts.initrd_digest)
        written = {}
        for fmt in wanted:
            reporter.step(f"writing {fmt.name}")
            written[fmt.name] = tuple(fmt.write(inputs, reporter))
        outputs = {fmt: tuple(_publish(path, options.outdir) for path in paths) for fmt, paths in written.items()}
    return BuildResult(name=name, outputs=outputs, digests=dict(images.digests))


def _publish(staged: Path, outdir: Path) -> Path:
    final = outdir / staged.name
    os.replace(staged, final)
    return final


def build_one(files: Sequence[Path], fmt: str, outdir: Path, reporter: Reporter = NULL) -> Path:
    """Build ``files`` into the single output file of ``fmt`` (what ``push`` does with a .yml)."""
    result = build(BuildOptions(files=tuple(files), formats=(fmt,), outdir=outdir), reporter)
    return result.outputs[fmt][0]
