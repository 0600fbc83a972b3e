"""LinuxKit's configuration schema (moby/schema.go) with lkcloud's semantic checks attached."""

from __future__ import annotations

from lkcloud.spec import checks
from lkcloud.spec.schema import (
    BOOLEAN,
    INTEGER,
    MAPSTRING,
    STRING,
    STRINGS,
    Enum,
    ListOf,
    Obj,
    Scalar,
    Spec,
    string,
    strings,
)

UINT32 = Scalar((int,), "an integer", checks.uint32)
ID = Scalar((str, int), "a number or a container name", checks.identity)

IDMAPPING = Obj({"hostID": UINT32, "containerID": UINT32, "size": UINT32})
IDMAPPINGS = ListOf(IDMAPPING)

_MOUNT_FIELDS: dict[str, Spec] = {
    "destination": STRING,
    "type": STRING,
    "source": STRING,
    "options": STRINGS,
    "uidmappings": IDMAPPINGS,
    "gidmappings": IDMAPPINGS,
}
RUNTIME_MOUNT = Obj(_MOUNT_FIELDS)
CONTAINER_MOUNT = Obj(_MOUNT_FIELDS, check=checks.mount)

DEVICE = Obj(
    {"path": STRING, "type": STRING, "major": INTEGER, "minor": INTEGER, "mode": string(checks.octal_mode)},
    check=checks.device,
)

# OCI LinuxResources, in the subset LinuxKit's schema allows.
_THROTTLE = ListOf(Obj({"major": INTEGER, "minor": INTEGER, "rate": INTEGER}))
RESOURCES = Obj(
    {
        "devices": ListOf(
            Obj({"allow": BOOLEAN, "type": STRING, "major": INTEGER, "minor": INTEGER, "access": STRING})
        ),
        "memory": Obj(
            {
                **dict.fromkeys(("limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness"), INTEGER),
                "disableOOMKiller": BOOLEAN,
            }
        ),
        "cpu": Obj(
            {
                **dict.fromkeys(("shares", "quota", "period", "realtimeRuntime", "realtimePeriod"), INTEGER),
                "cpus": STRING,
                "mems": STRING,
            }
        ),
        "pids": Obj({"limit": INTEGER}),
        "blockio": Obj(
            {
                "weight": INTEGER,
                "leafWeight": INTEGER,
                "weightDevice": ListOf(Obj(dict.fromkeys(("major", "minor", "weight", "leafWeight"), INTEGER))),
                "throttleReadBpsDevice": _THROTTLE,
                "throttleWriteBpsDevice": _THROTTLE,
                "throttleReadIOPSDevice": _THROTTLE,
                "throttleWriteIOPSDevice": _THROTTLE,
            }
        ),
        "hugepageLimits": ListOf(Obj({"pageSize": INTEGER, "limit": INTEGER})),
        "network": Obj({"classID": INTEGER, "priorities": ListOf(Obj({"name": STRING, "priority": INTEGER}))}),
    }
)

RUNTIME = Obj(
    {
        "cgroups": STRINGS,
        "mounts": ListOf(RUNTIME_MOUNT),
        "mkdir": STRINGS,
        "interfaces": ListOf(Obj({"name": STRING, "add": STRING, "peer": STRING, "createInRoot": BOOLEAN})),
        "bindNS": Obj(dict.fromkeys(("cgroup", "ipc", "mnt", "net", "pid", "user", "uts"), STRING)),
        "namespace": STRING,
    }
)

_CAPABILITIES = strings(check=checks.capabilities)
_BINDS = strings(checks.bind)

# The per-image fields: valid in YAML entries and in the org.mobyproject.config label.
IMAGE_CONFIG_FIELDS: dict[str, Spec] = {
    "capabilities": _CAPABILITIES,
    "capabilities.add": _CAPABILITIES,
    "ambient": _CAPABILITIES,
    "mounts": ListOf(CONTAINER_MOUNT),
    "binds": _BINDS,
    "binds.add": _BINDS,
    "devices": ListOf(DEVICE),
    "tmpfs": strings(checks.tmpfs),
    "command": STRINGS,
    "env": STRINGS,
    "cwd": STRING,
    "net": STRING,
    "pid": STRING,
    "ipc": STRING,
    "uts": STRING,
    "userns": STRING,
    "readonly": BOOLEAN,
    "maskedPaths": STRINGS,
    "readonlyPaths": STRINGS,
    "uid": ID,
    "gid": ID,
    "additionalGids": ListOf(ID),
    "noNewPrivileges": BOOLEAN,
    "hostname": STRING,
    "oomScoreAdj": INTEGER,
    "rootfsPropagation": STRING,
    "cgroupsPath": STRING,
    "resources": RESOURCES,
    "sysctl": MAPSTRING,
    "rlimits": strings(checks.rlimit),
    "uidMappings": IDMAPPINGS,
    "gidMappings": IDMAPPINGS,
    "annotations": MAPSTRING,
    "runtime": RUNTIME,
}

IMAGE = Obj(
    {"name": string(checks.container_name), "image": string(checks.image_reference), **IMAGE_CONFIG_FIELDS},
    required=("name", "image"),
    what="an image entry (a mapping with name and image)",
)
LABEL = Obj(IMAGE_CONFIG_FIELDS, what="a mapping of image settings")

KERNEL = Obj(
    {
        "image": string(checks.image_reference),
        "cmdline": STRING,
        "binary": STRING,
        "tar": STRING,
        "ucode": STRING,
    }
)

FILE = Obj(
    {
        "path": string(checks.file_path),
        "directory": BOOLEAN,
        "symlink": STRING,
        "contents": STRING,
        "source": STRING,
        "metadata": Enum(("yaml", "json")),
        "optional": BOOLEAN,
        "mode": string(checks.octal_mode),
        "uid": ID,
        "gid": ID,
    },
    check=checks.file_entry,
)

VOLUME = Obj(
    {
        "name": string(checks.volume_name),
        "image": string(checks.image_reference),
        "readonly": BOOLEAN,
        "format": Enum(("oci", "filesystem")),
        "platforms": STRINGS,
    },
    check=checks.volume,
)

TRUST = Obj({"image": STRINGS, "org": STRINGS})

CONFIG = Obj(
    {
        "kernel": KERNEL,
        "init": strings(checks.image_reference),
        "onboot": ListOf(IMAGE),
        "onshutdown": ListOf(IMAGE),
        "services": ListOf(IMAGE),
        "trust": TRUST,
        "files": ListOf(FILE),
        "volumes": ListOf(VOLUME),
    },
    what="a mapping (a LinuxKit config)",
)
