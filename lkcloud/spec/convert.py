"""Schema-valid YAML trees -> the typed model (lkcloud.spec.model).

The input has passed ``lkcloud.spec.rules``; conversion therefore trusts its shape.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from lkcloud.spec.document import Node
from lkcloud.spec.model import (
    JSON,
    BindNS,
    Config,
    Device,
    File,
    IDMapping,
    Image,
    ImageConfig,
    Interface,
    Kernel,
    Location,
    MetadataFormat,
    Mount,
    Runtime,
    Volume,
    VolumeFormat,
)

# YAML key -> ImageConfig field, for keys whose value is a list of strings.
_STRING_LISTS = {
    "capabilities": "capabilities",
    "capabilities.add": "capabilities_add",
    "ambient": "ambient",
    "binds": "binds",
    "binds.add": "binds_add",
    "tmpfs": "tmpfs",
    "command": "command",
    "env": "env",
    "maskedPaths": "masked_paths",
    "readonlyPaths": "readonly_paths",
    "rlimits": "rlimits",
}
# YAML key -> ImageConfig field, for values taken as they are.
_SCALARS = {
    "cwd": "cwd",
    "net": "net",
    "pid": "pid",
    "ipc": "ipc",
    "uts": "uts",
    "userns": "userns",
    "hostname": "hostname",
    "readonly": "readonly",
    "uid": "uid",
    "gid": "gid",
    "noNewPrivileges": "no_new_privileges",
    "oomScoreAdj": "oom_score_adj",
    "rootfsPropagation": "rootfs_propagation",
    "cgroupsPath": "cgroups_path",
    "resources": "resources",
}


def _strings(value: list[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _mappings(value: list[dict[str, int]] | None) -> tuple[IDMapping, ...] | None:
    if value is None:
        return None
    return tuple(IDMapping(m.get("containerID", 0), m.get("hostID", 0), m.get("size", 0)) for m in value)


def _pairs(value: dict[str, str] | None) -> tuple[tuple[str, str], ...] | None:
    return None if value is None else tuple(sorted(value.items()))


def _mount(value: dict[str, Any]) -> Mount:
    return Mount(
        destination=value.get("destination"),
        type=value.get("type"),
        source=value.get("source"),
        options=_strings(value.get("options")),
        uid_mappings=_mappings(value.get("uidmappings")),
        gid_mappings=_mappings(value.get("gidmappings")),
    )


def _mounts(value: list[dict[str, Any]] | None) -> tuple[Mount, ...] | None:
    return None if value is None else tuple(_mount(m) for m in value)


def _device(value: dict[str, Any]) -> Device:
    return Device(value["path"], value["type"], value.get("major", 0), value.get("minor", 0), value.get("mode"))


def _runtime(value: dict[str, Any] | None) -> Runtime | None:
    if value is None:
        return None
    interfaces = value.get("interfaces")
    bind_ns = value.get("bindNS")
    return Runtime(
        cgroups=_strings(value.get("cgroups")),
        mounts=_mounts(value.get("mounts")),
        mkdir=_strings(value.get("mkdir")),
        interfaces=None
        if interfaces is None
        else tuple(
            Interface(i.get("name"), i.get("add"), i.get("peer"), i.get("createInRoot", False)) for i in interfaces
        ),
        bind_ns=None if bind_ns is None else BindNS(**bind_ns),
        namespace=value.get("namespace"),
    )


def image_config(value: dict[str, Any]) -> ImageConfig:
    """The per-image settings of an image entry or label."""
    fields: dict[str, Any] = {attr: _strings(value.get(key)) for key, attr in _STRING_LISTS.items()}
    fields.update({attr: value.get(key) for key, attr in _SCALARS.items()})
    gids = value.get("additionalGids")
    devices = value.get("devices")
    fields.update(
        mounts=_mounts(value.get("mounts")),
        devices=None if devices is None else tuple(_device(d) for d in devices),
        additional_gids=None if gids is None else tuple(gids),
        sysctl=_pairs(value.get("sysctl")),
        annotations=_pairs(value.get("annotations")),
        uid_mappings=_mappings(value.get("uidMappings")),
        gid_mappings=_mappings(value.get("gidMappings")),
        runtime=_runtime(value.get("runtime")),
    )
    return ImageConfig(**fields)


def _image(node: Node, location: Location) -> Image:
    value = node.plain()
    return Image(value["name"], value["image"], image_config(value), location)


def _source(text: str | None) -> str | None:
    if text is not None and len(text) > 2 and text.startswith("~/"):
        return str(Path.home()) + text[1:]
    return text


def _file(node: Node, location: Location) -> File:
    value = node.plain()
    metadata = value.get("metadata")
    mode = value.get("mode")
    return File(
        path=_normal_path(value["path"]),
        directory=value.get("directory", False),
        symlink=value.get("symlink"),
        contents=value.get("contents"),
        source=_source(value.get("source")),
        metadata=None if metadata is None else MetadataFormat(metadata),
        optional=value.get("optional", False),
        mode=None if mode is None else int(mode, 8),
        uid=value.get("uid"),
        gid=value.get("gid"),
        location=location,
    )


def _normal_path(path: str) -> str:
    return posixpath.normpath(path.lstrip("/"))


def _volume(node: Node, location: Location) -> Volume:
    value = node.plain()
    return Volume(
        name=value["name"],
        image=value.get("image"),
        readonly=value.get("readonly", False),
        format=VolumeFormat(value.get("format") or VolumeFormat.FILESYSTEM),
        platforms=tuple(value.get("platforms", ())),
        location=location,
    )


def _entries(root: dict[str, Node], key: str) -> list[tuple[Node, str]]:
    node = root.get(key)
    items = node.value if node is not None and isinstance(node.value, list) else []
    return [(item, f"{key}[{i}]") for i, item in enumerate(items)]


def to_config(tree: Node, filename: str) -> Config:
    """The model of one validated config file."""
    assert isinstance(tree.value, dict)
    root = tree.value

    def where(node: Node, path: str) -> Location:
        return Location(filename, node.line, path)

    kernel_node = root.get("kernel")
    kernel = Kernel()
    if kernel_node is not None:
        kernel = Kernel(**kernel_node.plain(), location=where(kernel_node, "kernel"))
    init: JSON = root["init"].plain() if "init" in root else []
    assert isinstance(init, list)
    return Config(
        kernel=kernel,
        init=tuple(str(ref) for ref in init),
        onboot=tuple(_image(n, where(n, p)) for n, p in _entries(root, "onboot")),
        onshutdown=tuple(_image(n, where(n, p)) for n, p in _entries(root, "onshutdown")),
        services=tuple(_image(n, where(n, p)) for n, p in _entries(root, "services")),
        files=tuple(_file(n, where(n, p)) for n, p in _entries(root, "files")),
        volumes=tuple(_volume(n, where(n, p)) for n, p in _entries(root, "volumes")),
        sources=(filename,),
    )
