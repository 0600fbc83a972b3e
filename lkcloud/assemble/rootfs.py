"""The whole root filesystem stream, in LinuxKit's order: kernel, init, volumes, onboot,
onshutdown, services, files (LinuxKit's ``Build``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lkcloud.assemble.bundle import VOLUMES_DIR, LabelParser, allocate_ids, bundle
from lkcloud.assemble.files import MetadataWriter, files, metadata
from lkcloud.assemble.image import RESOLVCONF_SYMLINK, ImageSource, expand, image_tar, prefix_dirs
from lkcloud.assemble.kernel import kernel_entries
from lkcloud.assemble.stream import generated_mtime
from lkcloud.errors import BuildError
from lkcloud.oci.spool import Spool
from lkcloud.oci.unpack import DIR, REG, Entry, Warn
from lkcloud.progress import NULL, Reporter
from lkcloud.spec.model import Config, ImageConfig, Volume, VolumeFormat

APK_DB = "lib/apk/db/installed"
VOLUMES_SOURCE = "linuxkit.volumes"


def _parse_label(text: str, source: str) -> ImageConfig:
    from lkcloud.spec.label import parse_label_config

    return parse_label_config(text, source)


@dataclass
class Assembly:
    """How to assemble: where images come from, and the hooks tests may replace."""

    images: ImageSource
    reporter: Reporter = NULL
    mtime: int = field(default_factory=generated_mtime)
    parse_label: LabelParser = _parse_label
    write_metadata: MetadataWriter = metadata
    warn: Warn | None = None


def _init(config: Config, job: Assembly) -> Iterator[Entry]:
    databases: list[Entry] = []
    for index, ref in enumerate(config.init):
        job.reporter.step(f"init: {ref}")
        for entry in image_tar(job.images.entries(ref), source=expand(ref), location=f"init[{index}]", prefix="",
                               resolv=RESOLVCONF_SYMLINK, mtime=job.mtime):
            if entry.name == APK_DB and entry.type == REG:
                databases.append(entry)
            yield entry
    if len(databases) > 1:  # one apk database for the union of the init images
        merged = Spool(memory=0).take_chunks(_joined(databases))
        yield Entry(APK_DB, REG, 0o644, mtime=job.mtime, data=merged, source="LINUXKIT.apkinit", location="init")


def _joined(databases: list[Entry]) -> Iterator[bytes]:
    for database in databases:
        with database.open() as stream:
            yield from iter(lambda: stream.read(1 << 20), b"")
        yield b"\n\n"


def _volume(index: int, volume: Volume, job: Assembly) -> Iterator[Entry]:
    location = f"volume[{index}]"
    base = f"{VOLUMES_DIR}/{volume.name}"
    job.reporter.step(f"volume: {volume.name}")
    if volume.image is None:
        yield from prefix_dirs(base + "/lower/", "empty", location, job.mtime)
    elif volume.format is VolumeFormat.OCI:
        raise BuildError(f"volumes[{index}] ({volume.name}): format oci is not supported yet",
                         hint="use format: filesystem")
    else:
        yield from image_tar(job.images.entries(volume.image), source=expand(volume.image), location=location,
                             prefix=base + "/lower/", resolv=RESOLVCONF_SYMLINK, mtime=job.mtime)
    for part in ("tmp", "merged"):
        yield Entry(f"{base}/{part}", DIR, 0o755, mtime=job.mtime, source=VOLUMES_SOURCE, location=location)


def entries(config: Config, job: Assembly) -> Iterator[Entry]:
    """Every entry of the root filesystem, in stream order."""
    if config.kernel.image:
        job.reporter.step(f"kernel: {config.kernel.image}")
        yield from kernel_entries(config.kernel, job.images.entries(config.kernel.image),
                                  expand(config.kernel.image), job.mtime, warn=job.warn,
                                  limits=job.images.limits)
    yield from _init(config, job)
    for index, volume in enumerate(config.volumes):
        yield from _volume(index, volume, job)
    ids = allocate_ids((config.onboot, config.onshutdown, config.services))
    volumes = {v.name: v for v in config.volumes}
    extracted: dict[str, str] = {}
    for section, images in (("onboot", config.onboot), ("onshutdown", config.onshutdown),
                            ("services", config.services)):
        for index, image in enumerate(images):
            job.reporter.step(f"{section}: {image.name} ({image.image})")
            yield from bundle(image, section, index, images=job.images, ids=ids, volumes=volumes,
                              extracted=extracted, parse_label=job.parse_label, mtime=job.mtime)
    yield from files(config, ids, job.mtime, job.write_metadata)


def assemble(config: Config, job: Assembly, add: Callable[[Entry], None]) -> None:
    """Feed the root filesystem of ``config`` to ``add``, entry by entry."""
    for entry in entries(config, job):
        add(entry)
