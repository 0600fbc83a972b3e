"""``lkcloud build``: LinuxKit YAML in, output formats out, as a pipeline of named stages::

    check -> load -> resolve images -> assemble -> initrd -> formats -> publish

Every option is checked first (formats, name, directory, architecture, size, compression), before
anything is read, pulled or written; then every image the config names is found (cache or
registry) before the first pull. The work happens in a private directory inside the output
directory: the root filesystem tar is assembled once, the kernel+initrd made from it once, and
every format written from those into a staging directory; only when all succeeded are the
outputs renamed into place, together (a failed rename puts back what was there). A failed or
interrupted build (any exception, including ^C and the CLI's SIGTERM) leaves nothing under the
final names, no work directory, and no output directory it created.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lkcloud import formats as format_table
from lkcloud.errors import UsageError
from lkcloud.formats.arches import check_formats
from lkcloud.leftovers import sweep_build_dirs
from lkcloud.platform import Arch
from lkcloud.progress import NULL, Reporter

if TYPE_CHECKING:
    from lkcloud.oci.api import Descriptor, LocalImage
    from lkcloud.oci.store import ImageStore
    from lkcloud.oci.unpack import Entry
    from lkcloud.spec.model import Config

STDIN = "-"
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
UNSIZED_DISK_FORMATS = frozenset({"iso-bios", "iso-efi"})  # ISOs are as large as their content


@dataclass(frozen=True)
class BuildOptions:
    files: tuple[Path, ...]
    formats: tuple[str, ...] = ("kernel+initrd",)
    name: str | None = None  # defaults to the first file's base name
    outdir: Path = Path(".")
    arch: str | None = None  # None: LKCLOUD_ARCH, lkcloud.toml, else this machine's
    cache: Path | None = None  # defaults to settings.cache_dir()
    pull: bool = False
    compression: str = "gzip"  # gzip | zstd | xz | none
    initrd_layout: str = "segmented"  # segmented | stream (lkcloud.initrd.segments)
    size: int | None = None  # disk size in bytes, where the format takes one


@dataclass(frozen=True)
class BuildResult:
    name: str
    outputs: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # format -> files
    digests: dict[str, str] = field(default_factory=dict)  # image ref -> digest (as `cache ls` shows it)
    arch: str = "amd64"

    @property
    def paths(self) -> list[Path]:
        return [path for paths in self.outputs.values() for path in paths]


@dataclass(frozen=True)
class Plan:
    """The build's options, every one checked."""

    files: tuple[Path, ...]
    formats: tuple[format_table.Format, ...]
    name: str
    outdir: Path
    arch: Arch
    cache: Path
    pull: bool
    compression: str
    size: int | None
    initrd_layout: str = "segmented"


def default_name(path: Path) -> str:
    """The output base name LinuxKit derives from a config file: its name without extension."""
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def human_size(size: int) -> str:
    """``1 KiB``, ``1.5 GiB``, ``300 bytes``: a size as the user would write it back."""
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


def min_disk_size() -> int:
    """The smallest disk any disk format can write: partition table, an empty FAT32 boot
    partition, the backup GPT."""
    from lkcloud.disk import bootdisk, fat

    return bootdisk.PARTITION_START + fat.size_for((), fat32=True) + bootdisk.TAIL


# --- check -----------------------------------------------------------------------------------------
def check_name(name: str) -> str:
    """An output base name: a file name, not a path."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise UsageError(f"--name {name!r}: a name, not a path (no '/', not '.' or '..')",
                         hint="choose the directory with --dir")
    return name


def _check_formats(names: Sequence[str], name: str) -> tuple[format_table.Format, ...]:
    if not names:
        raise UsageError("no output format given", hint="choose one with -f, e.g. -f kernel+initrd")
    wanted = tuple(format_table.get(fmt) for fmt in dict.fromkeys(names))
    writers: dict[str, str] = {}
    for fmt in wanted:
        for output in fmt.outputs(name):
            if output in writers:
                raise UsageError(f"-f {writers[output]} and -f {fmt.name} would both write {output}")
            writers[output] = fmt.name
    return wanted


def _check_size(size: int | None, formats: Sequence[format_table.Format]) -> None:
    if size is None:
        return
    if size <= 0:
        raise UsageError(f"--size must be positive, not {size}")
    sized = [fmt.name for fmt in formats if fmt.boot_mode is not None and fmt.name not in UNSIZED_DISK_FORMATS]
    floor = min_disk_size()
    if sized and size < floor:
        raise UsageError(f"--size {human_size(size)} is too small for {sized[0]}: a disk needs at least"
                         f" {human_size(floor)} (more for a large kernel and initrd)",
                         hint=f"use --size {max(64, floor // MIB + 1)}M or more")


def _check_outdir(outdir: Path, name: str, formats: Sequence[format_table.Format]) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"--dir {outdir}: not a directory")
    for fmt in formats:
        for output in fmt.outputs(name):
            if (outdir / output).is_dir():
                raise UsageError(f"{outdir / output}: a directory is in the way of the {fmt.name} output")


def check_options(options: BuildOptions) -> Plan:
    """Every option checked, nothing read, pulled or written yet."""
    from lkcloud.initrd import check_compression, check_layout
    from lkcloud.settings import Settings, cache_dir, target_arch

    if not options.files:
        raise UsageError("no configuration file given")
    named = [path for path in options.files if str(path) != STDIN]
    if options.name is None and not named:
        raise UsageError("--name is needed when the configuration comes from standard input")
    name = check_name(options.name or default_name(named[0]))
    formats = _check_formats(options.formats, name)
    _check_size(options.size, formats)
    check_compression(options.compression)
    check_layout(options.initrd_layout)
    settings = Settings()
    arch = target_arch(options.arch, settings)
    check_formats(arch, formats)
    cache = cache_dir(settings, options.cache)
    if cache.exists() and not cache.is_dir():
        raise UsageError(f"--cache {cache}: not a directory")
    _check_outdir(options.outdir, name, formats)
    return Plan(files=tuple(options.files), formats=formats, name=name, outdir=options.outdir, arch=arch,
                cache=cache, pull=options.pull, compression=options.compression, size=options.size,
                initrd_layout=options.initrd_layout)


@contextlib.contextmanager
def workspace(plan: Plan) -> Iterator[Path]:
    """A private work directory in the output directory (created as needed, which proves it is
    usable), removed at the end; on failure the directories made for it go too."""
    missing = [d for d in (plan.outdir, *plan.outdir.parents) if not d.exists()]
    work = plan.outdir / f".{plan.name}.build-{secrets.token_hex(6)}"  # named first: an interrupt leaves no stray
    succeeded = False
    try:
        try:
            plan.outdir.mkdir(parents=True, exist_ok=True)
            sweep_build_dirs(plan.outdir)  # what killed builds left here, a day old
            work.mkdir(mode=0o700)
        except OSError as exc:
            raise UsageError(f"--dir {plan.outdir}: cannot write there: {exc.strerror or exc}") from exc
        yield work
        succeeded = True
    finally:
        _clean_up(work, [] if succeeded else missing)


def _clean_up(work: Path, made: Sequence[Path]) -> None:
    """Remove ``work``, and the directories in ``made`` that are empty (deepest first); a signal
    that arrives meanwhile waits until the cleanup is done."""
    pending: BaseException | None = None
    for _ in range(3):
        try:
            shutil.rmtree(work, ignore_errors=True)
            for directory in made:
                with contextlib.suppress(OSError):
                    directory.rmdir()
            break
        except BaseException as exc:  # ^C or SIGTERM during the cleanup: finish it first
            pending = exc
    if pending is not None:
        raise pending


# --- stages ----------------------------------------------------------------------------------------
@dataclass
class _RecordingStore:
    """The image store as assembly sees it, noting the digest of each image it hands out."""

    store: ImageStore
    digests: dict[str, str] = field(default_factory=dict)

    def get(self, ref: str, *, arch: str = "amd64", pull: bool = False) -> LocalImage:
        image = self.store.get(ref, arch=arch, pull=pull)
        self.digests[ref] = image.index_digest or image.manifest_digest
        return image

    def open_layer(self, layer: Descriptor) -> BinaryIO:
        return self.store.open_layer(layer)


def load(plan: Plan) -> tuple[Config, list[tuple[str, str]]]:
    """The merged, checked config, and the text of each file (``-``: standard input)."""
    from lkcloud.spec.load import load_files_with_sources

    return load_files_with_sources(plan.files)


def resolve(sources: Sequence[tuple[str, str]], plan: Plan, reporter: Reporter) -> _RecordingStore:
    """Every image found (cache or registry) before anything is pulled."""
    from lkcloud.oci.store import ImageStore
    from lkcloud.resolve import Origin, image_uses, resolve_images

    store = ImageStore(plan.cache, reporter=reporter)
    origins = resolve_images(image_uses(sources), store, arch=plan.arch, pull=plan.pull)
    pulls = sum(origin is Origin.REGISTRY for origin in origins.values())
    reporter.step(f"{len(origins)} images: {len(origins) - pulls} in the cache, {pulls} to pull")
    return _RecordingStore(store)


@dataclass(frozen=True)
class Rootfs:
    """The assembled root filesystem tar and its members (with their data offsets)."""

    inputs: format_table.BuildInputs
    members: list[tarfile.TarInfo]


def assemble_rootfs(config: Config, store: _RecordingStore, plan: Plan, work: Path, reporter: Reporter) -> Rootfs:
    """The root filesystem tar, in LinuxKit's layout and order."""
    from lkcloud.assemble import Assembly, assemble
    from lkcloud.assemble.image import StoreImages
    from lkcloud.assemble.stream import TarSink, generated_mtime

    mtime = generated_mtime()
    rootfs = work / "rootfs.tar"
    reporter.step(f"assembling {plan.name}")
    task = reporter.task(f"assembling {plan.name}")
    with rootfs.open("wb") as fh:
        sink = TarSink(fh)

        def add(entry: Entry) -> None:
            sink.add(entry)
            task.advance(len(entry.data))

        images = StoreImages(store, arch=plan.arch, pull=plan.pull)
        assemble(config, Assembly(images=images, reporter=reporter, mtime=mtime), add)
        sink.close()
    task.done()
    staged = work / "out"
    staged.mkdir()
    inputs = format_table.BuildInputs(name=plan.name, outdir=staged, workdir=work, cmdline="", arch=plan.arch,
                                      rootfs_tar=rootfs, size=plan.size, source_date_epoch=mtime)
    return Rootfs(inputs, sink.members)


def make_initrd(rootfs: Rootfs, plan: Plan, reporter: Reporter) -> format_table.BuildInputs:
    """The kernel, initrd and command line, when a format needs them."""
    from lkcloud.initrd import build_initrd

    inputs = rootfs.inputs
    if not any(fmt.needs_kernel for fmt in plan.formats):
        return inputs
    assert inputs.rootfs_tar is not None
    reporter.step(f"writing the initrd ({plan.compression})")
    parts = build_initrd(inputs.rootfs_tar, inputs.workdir, compression=plan.compression,
                         members=rootfs.members, dir_mtime=inputs.source_date_epoch, layout=plan.initrd_layout)
    return dataclasses.replace(inputs, cmdline=parts.cmdline, kernel=parts.kernel, initrd=parts.initrd,
                               initrd_only=parts.initrd_only, ucode=parts.ucode,
                               kernel_digest=parts.kernel_digest, initrd_digest=parts.initrd_digest)


def write_formats(inputs: format_table.BuildInputs, plan: Plan, reporter: Reporter) -> dict[str, tuple[Path, ...]]:
    """Every format, written into the staging directory."""
    written = {}
    for fmt in plan.formats:
        reporter.step(f"writing {fmt.name}")
        written[fmt.name] = tuple(fmt.write(inputs, reporter))
    return written


def publish(staged: dict[str, tuple[Path, ...]], outdir: Path, work: Path) -> dict[str, tuple[Path, ...]]:
    """Rename every staged output into ``outdir``, all or nothing: what a failed rename would
    replace is kept aside (hard links in ``work``) and put back."""
    kept = work / "previous"
    kept.mkdir()
    done: list[tuple[Path, Path | None]] = []
    try:
        for paths in staged.values():
            for path in paths:
                final = outdir / path.name
                previous = kept / path.name if final.is_file() else None
                if previous is not None:
                    os.link(final, previous)
                os.replace(path, final)
                done.append((final, previous))
    except BaseException:
        for final, previous in reversed(done):
            if previous is not None:
                os.replace(previous, final)
            else:
                final.unlink(missing_ok=True)
        raise
    return {fmt: tuple(outdir / path.name for path in paths) for fmt, paths in staged.items()}


def build(options: BuildOptions, reporter: Reporter = NULL) -> BuildResult:
    """Build every requested format; the root filesystem and the kernel+initrd are made once."""
    plan = check_options(options)
    with workspace(plan) as work:
        config, sources = load(plan)
        store = resolve(sources, plan, reporter)
        rootfs = assemble_rootfs(config, store, plan, work, reporter)
        inputs = make_initrd(rootfs, plan, reporter)
        staged = write_formats(inputs, plan, reporter)
        outputs = publish(staged, plan.outdir, work)
    return BuildResult(name=plan.name, outputs=outputs, digests=dict(store.digests), arch=str(plan.arch))


def build_arches(options: BuildOptions, arches: Sequence[str | None], reporter: Reporter = NULL) -> list[BuildResult]:
    """One build per architecture (``--arch amd64 --arch arm64``): every option of every one
    checked before any work, then each built in turn (the pulls they share come from the cache).
    With more than one, each build's outputs are named ``NAME-ARCH``."""
    from lkcloud.settings import target_arch

    chosen = list(dict.fromkeys(str(target_arch(arch)) for arch in arches or [None]))
    if len(chosen) == 1:
        return [build(dataclasses.replace(options, arch=chosen[0]), reporter)]
    named = [path for path in options.files if str(path) != STDIN]
    base = options.name or (default_name(named[0]) if named else None)
    each = [dataclasses.replace(options, arch=arch, name=f"{base}-{arch}" if base else None) for arch in chosen]
    for one in each:
        check_options(one)
    return [build(one, reporter) for one in each]


def build_one(files: Sequence[Path], fmt: str, outdir: Path, reporter: Reporter = NULL) -> Path:
    """Build ``files`` into the single output file of ``fmt`` (what ``push`` does with a .yml)."""
    result = build(BuildOptions(files=tuple(files), formats=(fmt,), outdir=outdir), reporter)
    return result.outputs[fmt][0]
