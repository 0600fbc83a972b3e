"""OCI bundles for onboot, onshutdown and service containers (LinuxKit's ``outputImage`` and
``ImageBundle``).

A writable container gets its image in ``lower/`` plus empty ``tmp/`` and ``rootfs/`` and overlay
mounts in ``runtime.json``; a read-only one gets its image in ``rootfs/`` with a bind mount onto
itself. An image used by several containers is extracted once; later bundles mount the first copy.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from lkcloud.assemble.image import ImageSource, expand, image_tar, prefix_dirs
from lkcloud.assemble.ociconfig import config_to_oci, go_json
from lkcloud.errors import BuildError
from lkcloud.oci.unpack import DIR, REG, Entry
from lkcloud.spec.model import Image, ImageConfig, Volume

VOLUMES_DIR = "containers/volumes"
LABEL = "org.mobyproject.config"

LabelParser = Callable[[str, str], ImageConfig]


def volume_dir(name: str, part: str) -> str:
    """``/containers/volumes/NAME/{lower,tmp,merged}``."""
    return f"/{VOLUMES_DIR}/{name}/{part}"


def _volume_bind(spec: str, volumes: Mapping[str, Volume], where: str) -> str:
    parts = spec.split(":")
    if parts[0].startswith("/"):
        return spec
    volume = volumes.get(parts[0])
    if volume is None:
        raise BuildError(f"{where}: volume {parts[0]} not found", hint="declare it under volumes:")
    if volume.readonly and (len(parts) < 3 or parts[2] != "ro"):
        raise BuildError(f"{where}: volume {parts[0]} is read-only, but attempting to write into container "
                         "read-write", hint=f"bind it with ':ro' ({parts[0]}:{parts[1] if len(parts) > 1 else ''}:ro)")
    return ":".join([volume_dir(parts[0], "merged"), *parts[1:]])


def with_volume_paths(image: Image, volumes: Mapping[str, Volume]) -> ImageConfig:
    """The image's config with volume names in ``binds``/``binds.add`` replaced by their merged
    directory. ``mounts`` are checked but, as in LinuxKit, not rewritten."""
    config = image.config
    where = f"{image.name}"
    for mount in config.mounts or ():
        if mount.type != "bind" or (mount.source or "").startswith("/"):
            continue
        volume = volumes.get(mount.source or "")
        if volume is None:
            raise BuildError(f"{where}: volume {mount.source} not found in mounts")
        opts = [o for o in mount.options or () if o in ("ro", "rw")]
        if volume.readonly and (not opts or opts[0] != "ro"):
            raise BuildError(f"{where}: volume {mount.source} is read-only, but attempting to write into "
                             "container read-write")
    changes: dict[str, Any] = {}
    if config.binds is not None:
        changes["binds"] = tuple(_volume_bind(b, volumes, where) for b in config.binds)
    if config.binds_add is not None:
        changes["binds_add"] = tuple(_volume_bind(b, volumes, where) for b in config.binds_add)
    return dataclasses.replace(config, **changes) if changes else config


def _file(name: str, data: bytes, source: str, location: str, mtime: int) -> Entry:
    return Entry(name, REG, 0o644, mtime=mtime, data=data, source=source, location=location)


def _dir(name: str, source: str, location: str, mtime: int) -> Entry:
    return Entry(name, DIR, 0o755, mtime=mtime, source=source, location=location)


def bundle(image: Image, section: str, index: int, *, images: ImageSource, ids: Mapping[str, int],
           volumes: Mapping[str, Volume], extracted: dict[str, str], parse_label: LabelParser,
           mtime: int) -> Iterator[Entry]:
    """The entries of one container's bundle under ``containers/SECTION/[NNN-]NAME``."""
    ref = expand(image.image)
    location = f"{section}[{index}]"
    prefix = posixpath.join("containers", section, (f"{index:03d}-" if section != "services" else "") + image.name)
    image_config = images.config(image.image)
    label_text = image_config.label(LABEL)
    label = parse_label(label_text, f"{image.image} label {LABEL}") if label_text else None
    try:
        oci = config_to_oci(with_volume_paths(image, volumes), label, image_config, ids)
    except BuildError as exc:
        raise BuildError(f"{location} ({image.name}): {exc.message}", hint=exc.hint) from None
    root = posixpath.join(prefix, "rootfs" if oci.readonly else "lower")
    first_copy = extracted.get(ref)
    if first_copy is None:
        yield from image_tar(images.entries(image.image), source=ref, location=location, prefix=root + "/",
                             resolv="", mtime=mtime)
        extracted[ref] = root
    else:
        yield from prefix_dirs(prefix + "/", ref, location, mtime)
        root = first_copy
    yield _file(prefix + "/config.json", go_json(oci.spec), ref, location, mtime)
    rootfs = "/" + prefix + "/rootfs"
    mounts: list[dict[str, Any]]
    if not oci.readonly:
        tmp = "/" + prefix + "/tmp"
        yield _dir(prefix + "/tmp", ref, location, mtime)
        yield _dir(prefix + "/rootfs", ref, location, mtime)
        mounts = [
            {"destination": tmp, "type": "tmpfs", "source": "tmpfs"},
            {"destination": tmp, "options": ["remount", "private"]},
            {"destination": rootfs, "type": "overlay", "source": "overlay",
             "options": [f"lowerdir=/{root}", f"upperdir={tmp}/upper", f"workdir={tmp}/work"]},
        ]
    else:
        if first_copy is not None:
            yield _dir(prefix + "/rootfs", ref, location, mtime)
        mounts = [{"destination": rootfs, "source": "/" + root, "options": ["bind"]}]
    runtime = dict(oci.runtime)
    runtime["mounts"] = mounts + list(runtime["mounts"])
    yield _file(prefix + "/runtime.json", go_json(runtime), ref, location, mtime)


def allocate_ids(sections: Sequence[Sequence[Image]]) -> dict[str, int]:
    """uid/gid by container name: 100, 101, ... over onboot, onshutdown, services in order."""
    ids: dict[str, int] = {}
    next_id = 100
    for section in sections:
        for image in section:
            ids[image.name] = next_id
            next_id += 1
    return ids
