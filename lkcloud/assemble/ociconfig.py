"""The OCI runtime spec (``config.json``) and ``runtime.json`` of a bundle, as LinuxKit's
``ConfigToOCI`` makes them.

Precedence is YAML > label ``org.mobyproject.config`` > image config, each value replaced whole.
The dictionaries are built in the field order and with the ``omitempty`` rules of the Go structs
(runtime-spec 1.2.1), and :func:`go_json` prints them as Go's ``json.MarshalIndent`` does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from lkcloud.errors import BuildError
from lkcloud.oci.api import ContainerConfig
from lkcloud.spec.model import JSON, Device, Id, IDMapping, ImageConfig, Mount, Runtime

OCI_VERSION = "1.2.1"
UNLIMITED = 18446744073709551615
# moby/sys/capability ListKnown(), in capability-number order.
ALL_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
RLIMITS = frozenset({
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
})
DEFAULT_MOUNTPOINTS = {"proc": "/proc", "devpts": "/dev/pts", "sysfs": "/sys", "cgroup": "/sys/fs/cgroup",
                       "mqueue": "/dev/mqueue"}
# (namespace key, OCI type, default): "root"/"host" share the host's, "new" (or "none" for net) creates.
NAMESPACES = (("net", "network", "root"), ("ipc", "ipc", "root"), ("uts", "uts", "root"),
              ("pid", "pid", ""), ("userns", "user", "root"))

T = TypeVar("T")


@dataclass(frozen=True)
class BundleConfig:
    spec: dict[str, Any]  # config.json
    runtime: dict[str, Any]  # runtime.json before the rootfs mounts are prepended
    readonly: bool


def pick(label: T | None, yaml: T | None, default: T) -> T:
    """YAML, else label, else the default (LinuxKit's assign*)."""
    if yaml is not None:
        return yaml
    return label if label is not None else default


def _nonempty(yaml: str | None, label: str | None, *rest: str) -> str:
    """The first non-empty string of YAML, label, then the rest (LinuxKit's assignStringEmpty*)."""
    for value in (yaml, label, *rest):
        if value:
            return value
    return ""


def id_number(value: Id | None, ids: Mapping[str, int]) -> int:
    """A uid/gid: a number, ``root``/empty (0), or a container's allocated id."""
    if value is None or isinstance(value, int):
        return value or 0
    if value in ("", "root"):
        return 0
    if value not in ids:
        raise BuildError(f"cannot find id: {value}", hint="uid/gid names must be onboot, onshutdown or service names")
    return ids[value]


def go_json(value: Any) -> bytes:
    """JSON as Go's ``json.MarshalIndent(v, "", "    ")`` prints it (HTML characters escaped)."""
    text = json.dumps(value, indent=4, ensure_ascii=False)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode()


def _caps(names: Sequence[str]) -> list[str]:
    caps = list(names)
    if len(caps) == 1:
        caps = {"none": [], "all": list(ALL_CAPS)}.get(caps[0].lower(), caps)
    for cap in caps:
        if cap not in ALL_CAPS:
            raise BuildError(f"unknown capability: {cap}")
    return caps


def _merged(first: tuple[str, ...] | None, second: tuple[str, ...] | None) -> tuple[str, ...]:
    """LinuxKit's mergeStrings: concatenation, duplicates kept."""
    return (first or ()) + (second or ())


def capabilities(yaml: ImageConfig, label: ImageConfig) -> dict[str, list[str]]:
    if yaml.capabilities is not None:
        caps = _caps(yaml.capabilities)
    else:
        caps = _caps(_merged(label.capabilities, yaml.capabilities_add))
    ambient = _caps(pick(label.ambient, yaml.ambient, ()))
    bounding = sorted(set(caps) | set(ambient))
    fields = (("bounding", bounding), ("effective", caps), ("inheritable", bounding),
              ("permitted", bounding), ("ambient", ambient))
    return {key: value for key, value in fields if value}


def _mount(destination: str, type_: str, source: str, options: Sequence[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"destination": destination}
    if type_:
        out["type"] = type_
    if source:
        out["source"] = source
    if options:
        out["options"] = list(options)
    return out


def _mappings(items: Sequence[IDMapping] | None) -> list[dict[str, int]]:
    return [{"containerID": m.container_id, "hostID": m.host_id, "size": m.size} for m in items or ()]


def runtime_mount(mount: Mount) -> dict[str, Any]:
    """A ``runtime.mounts`` entry as a specs.Mount, verbatim."""
    out = _mount(mount.destination or "", mount.type or "", mount.source or "", mount.options)
    if mount.uid_mappings:
        out["uidMappings"] = _mappings(mount.uid_mappings)
    if mount.gid_mappings:
        out["gidMappings"] = _mappings(mount.gid_mappings)
    return out


def mounts(yaml: ImageConfig, label: ImageConfig, readonly: bool) -> list[dict[str, Any]]:
    ro = ["ro"] if readonly else []
    table: dict[str, dict[str, Any]] = {
        "/proc": _mount("/proc", "proc", "proc", ["nosuid", "nodev", "noexec", "relatime"]),
        "/dev": _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k", *ro]),
        "/dev/pts": _mount("/dev/pts", "devpts", "devpts",
                           ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
        "/sys": _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", *ro]),
        "/sys/fs/cgroup": _mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]),
    }
    for spec in pick(label.tmpfs, yaml.tmpfs, ()):
        parts = spec.split(":")
        if len(parts) > 2:
            raise BuildError(f"cannot parse tmpfs, too many ':': {spec}")
        table[parts[0]] = _mount(parts[0], "tmpfs", "tmpfs", parts[1].split(",") if len(parts) == 2 else None)
    binds = yaml.binds if yaml.binds is not None else _merged(label.binds, yaml.binds_add)
    for spec in binds:
        parts = spec.split(":")
        if not 2 <= len(parts) <= 3:
            raise BuildError(f"cannot parse bind, {'missing' if len(parts) < 2 else 'too many'} ':': {spec}")
        options = [*parts[2].split(","), "rbind"] if len(parts) == 3 else ["rw", "rbind", "rshared"]
        table[parts[1]] = _mount(parts[1], "bind", parts[0], options)
    for mount in pick(label.mounts, yaml.mounts, ()):
        kind, source, dest = mount.type or "", mount.source or "", mount.destination or ""
        if not kind and source in ("mqueue", "devpts", "proc", "sysfs", "cgroup"):
            kind = source
        if not kind and dest == "/dev":
            kind = "tmpfs"
        if not kind:
            raise BuildError(f"mount for destination {dest} is missing type")
        dest = dest or DEFAULT_MOUNTPOINTS.get(kind, "")
        if not dest:
            raise BuildError(f"mount type {kind} is missing destination")
        table[dest] = _mount(dest, kind, source or kind, mount.options)
    return [table[key] for key in sorted(table)]


def namespaces(yaml: ImageConfig, label: ImageConfig) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for key, kind, default in NAMESPACES:
        value = _nonempty(getattr(yaml, key), getattr(label, key), default)
        if value in ("host", "root"):
            continue
        path = "" if value in ("new", "") or (key == "net" and value == "none") else value
        out.append({"type": kind, "path": path} if path else {"type": kind})
    out.append({"type": "mount"})
    return out


def rlimits(specs: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for spec in specs:
        parts = spec.split(",", 2)
        if len(parts) != 3:
            raise BuildError(f"cannot parse rlimit: {spec}")
        limit = parts[0].strip().upper()
        limit = limit if limit.startswith("RLIMIT_") else "RLIMIT_" + limit
        if limit not in RLIMITS:
            raise BuildError(f"unknown limit: {parts[0].strip()}")
        soft, hard = (_limit(value) for value in parts[1:])
        out.append({"type": limit, "hard": hard, "soft": soft})
    return out


def _limit(text: str) -> int:
    text = text.strip()
    if text.lower() == "unlimited":
        return UNLIMITED
    if not text.isdigit() or int(text) > UNLIMITED:
        raise BuildError(f"cannot parse {text} as uint64")
    return int(text)


def devices(items: Sequence[Device], resources: dict[str, Any]) -> list[dict[str, Any]]:
    """The linux.devices list; every device (and ``path: all``) also gets a cgroup allow rule."""
    out: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = list(resources.get("devices") or [])
    for device in items:
        if device.path == "all":
            rules.append({"allow": True, **({"type": device.type} if device.type else {}), "access": "rwm"})
            continue
        try:
            mode = int(device.mode or "", 8)
        except ValueError:
            raise BuildError(f"cannot parse device mode as octal value: {device.mode!r} ({device.path})") from None
        out.append({"path": device.path, "type": device.type, "major": device.major, "minor": device.minor,
                    "fileMode": mode})
        rules.append({"allow": True, **({"type": device.type} if device.type else {}),
                      "major": device.major, "minor": device.minor, "access": "rwm"})
    if rules:
        resources["devices"] = rules
    return out


def runtime_config(yaml: Runtime | None, label: Runtime | None) -> dict[str, Any]:
    """runtime.json: each field of the YAML's ``runtime`` else the label's."""
    y, lab = yaml or Runtime(), label or Runtime()
    ns_y, ns_l = y.bind_ns, lab.bind_ns
    bind_ns = {key: _nonnull(getattr(ns_l, attr, None) if ns_l else None, getattr(ns_y, attr, None) if ns_y else None)
               for key, attr in (("cgroup", "cgroup"), ("ipc", "ipc"), ("mnt", "mnt"), ("net", "net"),
                                 ("pid", "pid"), ("user", "user"), ("uts", "uts"))}
    interfaces = [
        {**{k: v for k, v in (("name", i.name), ("add", i.add), ("peer", i.peer)) if v},
         "createInRoot": i.create_in_root}
        for i in pick(lab.interfaces, y.interfaces, ())
    ]
    return {
        "cgroups": list(pick(lab.cgroups, y.cgroups, ())),
        "mounts": [runtime_mount(m) for m in pick(lab.mounts, y.mounts, ())],
        "mkdir": list(pick(lab.mkdir, y.mkdir, ())),
        "interfaces": interfaces,
        "bindNS": bind_ns,
        "namespace": pick(lab.namespace, y.namespace, ""),
    }


def _nonnull(label: str | None, yaml: str | None) -> str:
    return pick(label, yaml, "")


def process(yaml: ImageConfig, label: ImageConfig, image: ContainerConfig, ids: Mapping[str, int]) -> dict[str, Any]:
    uid = yaml.uid if yaml.uid is not None else label.uid
    gid = yaml.gid if yaml.gid is not None else label.gid
    user: dict[str, Any] = {"uid": id_number(uid, ids), "gid": id_number(gid, ids)}
    extra_gids = [id_number(g, ids) for g in pick(label.additional_gids, yaml.additional_gids, ())]
    if extra_gids:
        user["additionalGids"] = extra_gids
    inspect = (image.entrypoint or ()) + (image.cmd or ())
    args = pick(label.command, yaml.command, inspect)
    env = pick(label.env, yaml.env, image.env or ())
    out: dict[str, Any] = {"user": user}
    if args:
        out["args"] = list(args)
    if env:
        out["env"] = list(env)
    out["cwd"] = _nonempty(yaml.cwd, label.cwd, image.working_dir or "", "/")
    out["capabilities"] = capabilities(yaml, label)
    limits = rlimits(pick(label.rlimits, yaml.rlimits, ()))
    if limits:
        out["rlimits"] = limits
    if pick(label.no_new_privileges, yaml.no_new_privileges, False):
        out["noNewPrivileges"] = True
    oom = pick(label.oom_score_adj, yaml.oom_score_adj, None)
    if oom is not None:
        out["oomScoreAdj"] = oom
    return out


def linux(yaml: ImageConfig, label: ImageConfig) -> dict[str, Any]:
    resources = order_resources(pick(label.resources, yaml.resources, None))
    linux_devices = devices(pick(label.devices, yaml.devices, ()), resources)
    fields: list[tuple[str, Any]] = [
        ("uidMappings", _mappings(pick(label.uid_mappings, yaml.uid_mappings, ()))),
        ("gidMappings", _mappings(pick(label.gid_mappings, yaml.gid_mappings, ()))),
        ("sysctl", dict(pick(label.sysctl, yaml.sysctl, ()))),
        ("resources", order_resources(resources)),
        ("cgroupsPath", pick(label.cgroups_path, yaml.cgroups_path, "")),
        ("namespaces", namespaces(yaml, label)),
        ("devices", linux_devices),
        ("rootfsPropagation", pick(label.rootfs_propagation, yaml.rootfs_propagation, "")),
        ("maskedPaths", list(pick(label.masked_paths, yaml.masked_paths, ()))),
        ("readonlyPaths", list(pick(label.readonly_paths, yaml.readonly_paths, ()))),
    ]
    return {key: value for key, value in fields if value or key == "resources"}


def config_to_oci(yaml: ImageConfig, label: ImageConfig | None, image: ContainerConfig,
                  ids: Mapping[str, int]) -> BundleConfig:
    """The OCI spec and runtime config of one onboot/onshutdown/service image."""
    label = label or ImageConfig()
    readonly = pick(label.readonly, yaml.readonly, False)
    spec: dict[str, Any] = {"ociVersion": OCI_VERSION, "process": process(yaml, label, image, ids),
                            "root": {"path": "rootfs", **({"readonly": True} if readonly else {})}}
    hostname = _nonempty(yaml.hostname, label.hostname)
    if hostname:
        spec["hostname"] = hostname
    spec["mounts"] = mounts(yaml, label, readonly)
    annotations = dict(pick(label.annotations, yaml.annotations, ()))
    if annotations:
        spec["annotations"] = annotations
    spec["linux"] = linux(yaml, label)
    return BundleConfig(spec=spec, runtime=runtime_config(yaml.runtime, label.runtime), readonly=readonly)


# Field order of specs.LinuxResources and its parts; unknown keys follow, sorted.
_RESOURCE_ORDER: dict[str, tuple[str, ...]] = {
    "": ("devices", "memory", "cpu", "pids", "blockIO", "hugepageLimits", "network", "rdma", "unified"),
    "memory": ("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller",
               "useHierarchy", "checkBeforeUpdate"),
    "cpu": ("shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle"),
    "blockIO": ("weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
                "throttleReadIOPSDevice", "throttleWriteIOPSDevice"),
    "network": ("classID", "priorities"),
    "devices": ("allow", "type", "major", "minor", "access"),
}


def order_resources(value: JSON, kind: str = "") -> dict[str, Any]:
    """LinuxResources with Go's field order; empty strings and lists dropped (omitempty)."""
    if not isinstance(value, dict):
        return {}
    order = _RESOURCE_ORDER.get(kind, ())
    keys = [k for k in order if k in value] + sorted(k for k in value if k not in order)
    out: dict[str, Any] = {}
    for key in keys:
        item = value[key]
        if item in ("", [], None):
            continue
        if isinstance(item, dict) and kind == "":
            item = order_resources(item, key) if key not in ("rdma", "unified") else dict(sorted(item.items()))
        elif isinstance(item, list) and key == "devices":
            item = [order_resources(rule, "devices") for rule in item]
        out[key] = item
    return out
