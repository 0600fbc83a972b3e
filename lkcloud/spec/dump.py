"""The resolved config as plain data in LinuxKit's YAML key names (for ``metadata: yaml|json``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lkcloud.errors import LkcloudError
from lkcloud.spec.model import (
    Config,
    Device,
    File,
    IDMapping,
    Image,
    ImageConfig,
    Kernel,
    Mount,
    Runtime,
    Volume,
)


def _normaliser() -> Callable[[str], str]:
    try:
        from lkcloud.oci.reference import normalise
    except ImportError:  # pragma: no cover - the OCI package is always present in a full install
        return lambda ref: ref

    def safe(ref: str) -> str:
        if ref.startswith("@pkg:"):
            return ref
        try:
            return normalise(ref)
        except LkcloudError:  # an unparsable ref is reported by validation, not here
            return ref

    return safe


def _set(pairs: dict[str, Any]) -> dict[str, Any]:
    """Only the fields that are set (LinuxKit's omitempty)."""
    return {key: value for key, value in pairs.items() if value is not None}


def _list(values: tuple[Any, ...] | None, convert: Callable[[Any], Any] = lambda v: v) -> list[Any] | None:
    return None if values is None else [convert(v) for v in values]


def _mapping(m: IDMapping) -> dict[str, int]:
    return {"containerID": m.container_id, "hostID": m.host_id, "size": m.size}


def _mount(m: Mount) -> dict[str, Any]:
    return _set(
        {
            "destination": m.destination,
            "type": m.type,
            "source": m.source,
            "options": _list(m.options),
            "uidmappings": _list(m.uid_mappings, _mapping),
            "gidmappings": _list(m.gid_mappings, _mapping),
        }
    )


def _device(d: Device) -> dict[str, Any]:
    return _set({"path": d.path, "type": d.type, "major": d.major, "minor": d.minor, "mode": d.mode})


def _runtime(r: Runtime) -> dict[str, Any]:
    bind_ns = None
    if r.bind_ns is not None:
        ns = r.bind_ns
        bind_ns = _set(
            {
                "cgroup": ns.cgroup,
                "ipc": ns.ipc,
                "mnt": ns.mnt,
                "net": ns.net,
                "pid": ns.pid,
                "user": ns.user,
                "uts": ns.uts,
            }
        )
    interfaces = _list(
        r.interfaces,
        lambda i: _set({"name": i.name, "add": i.add, "peer": i.peer}) | {"createInRoot": i.create_in_root},
    )
    return _set(
        {
            "cgroups": _list(r.cgroups),
            "mounts": _list(r.mounts, _mount),
            "mkdir": _list(r.mkdir),
            "interfaces": interfaces,
            "bindNS": bind_ns,
            "namespace": r.namespace,
        }
    )


def image_config_to_dict(c: ImageConfig) -> dict[str, Any]:
    """Per-image settings in LinuxKit's key names and order; unset fields left out."""
    return _set(
        {
            "capabilities": _list(c.capabilities),
            "capabilities.add": _list(c.capabilities_add),
            "ambient": _list(c.ambient),
            "mounts": _list(c.mounts, _mount),
            "binds": _list(c.binds),
            "binds.add": _list(c.binds_add),
            "devices": _list(c.devices, _device),
            "tmpfs": _list(c.tmpfs),
            "command": _list(c.command),
            "env": _list(c.env),
            "cwd": c.cwd,
            "net": c.net,
            "pid": c.pid,
            "ipc": c.ipc,
            "uts": c.uts,
            "userns": c.userns,
            "hostname": c.hostname,
            "readonly": c.readonly,
            "maskedPaths": _list(c.masked_paths),
            "readonlyPaths": _list(c.readonly_paths),
            "uid": c.uid,
            "gid": c.gid,
            "additionalGids": _list(c.additional_gids),
            "noNewPrivileges": c.no_new_privileges,
            "oomScoreAdj": c.oom_score_adj,
            "rootfsPropagation": c.rootfs_propagation,
            "cgroupsPath": c.cgroups_path,
            "resources": c.resources,
            "sysctl": None if c.sysctl is None else dict(c.sysctl),
            "rlimits": _list(c.rlimits),
            "uidMappings": _list(c.uid_mappings, _mapping),
            "gidMappings": _list(c.gid_mappings, _mapping),
            "annotations": None if c.annotations is None else dict(c.annotations),
            "runtime": None if c.runtime is None else _runtime(c.runtime),
        }
    )


def _kernel(k: Kernel, ref: Callable[[str], str]) -> dict[str, Any]:
    image = None if k.image is None else ref(k.image)
    return _set({"image": image, "cmdline": k.cmdline, "binary": k.binary, "tar": k.tar, "ucode": k.ucode})


def _image(i: Image, ref: Callable[[str], str]) -> dict[str, Any]:
    return {"name": i.name, "image": ref(i.image), **image_config_to_dict(i.config)}


def _file(f: File) -> dict[str, Any]:
    return _set(
        {
            "path": f.path,
            "directory": f.directory,
            "symlink": f.symlink,
            "contents": f.contents,
            "source": f.source,
            "metadata": None if f.metadata is None else f.metadata.value,
            "optional": f.optional,
            "mode": None if f.mode is None else f"0{f.mode:o}",
            "uid": f.uid,
            "gid": f.gid,
        }
    )


def _volume(v: Volume, ref: Callable[[str], str]) -> dict[str, Any]:
    return _set(
        {
            "name": v.name,
            "image": None if v.image is None else ref(v.image),
            "readonly": v.readonly or None,
            "format": v.format.value,
            "platforms": list(v.platforms) or None,
        }
    )


def config_to_dict(config: Config) -> dict[str, Any]:
    """The resolved config in LinuxKit's YAML key names, image references normalised."""
    ref = _normaliser()
    return {
        "kernel": _kernel(config.kernel, ref),
        "init": [ref(r) for r in config.init],
        "onboot": [_image(i, ref) for i in config.onboot],
        "onshutdown": [_image(i, ref) for i in config.onshutdown],
        "services": [_image(i, ref) for i in config.services],
        "files": [_file(f) for f in config.files],
        "volumes": [_volume(v, ref) for v in config.volumes],
    }
