"""Semantic checks of LinuxKit config values, as LinuxKit applies them when it builds.

Value checks take a schema-valid value and return a message (or None); hooks take a located node
and yield ``Issue``s. Messages quote the offending value.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

from lkcloud.errors import LkcloudError
from lkcloud.spec.document import Node
from lkcloud.spec.schema import Issue

# Every capability the Linux kernel defines (capability.h, through CAP_CHECKPOINT_RESTORE = 40).
# LinuxKit accepts exactly these spellings: "CAP_" prefix, upper case.
_CAPABILITY_NAMES = """
    CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
    NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO
    SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
    SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
    WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE
"""
CAPABILITIES = frozenset("CAP_" + name for name in _CAPABILITY_NAMES.split())
CAPABILITY_WORDS = ("all", "none")  # valid only as the single entry of a list, any case

_RLIMIT_NAMES = "CPU FSIZE DATA STACK CORE RSS NPROC NOFILE MEMLOCK AS LOCKS SIGPENDING MSGQUEUE NICE RTPRIO RTTIME"
RLIMITS = frozenset("RLIMIT_" + name for name in _RLIMIT_NAMES.split())
UNLIMITED = 2**64 - 1
VOLUME_NAME = re.compile(r"[a-z0-9_-]*")
_OCTAL = re.compile(r"[0-7]+")
_UINT32 = 2**32
_INT32 = 2**31
_DEFAULT_MOUNTPOINTS = {
    "proc": "/proc",
    "devpts": "/dev/pts",
    "sysfs": "/sys",
    "cgroup": "/sys/fs/cgroup",
    "mqueue": "/dev/mqueue",
}
_TYPE_FROM_SOURCE = ("mqueue", "devpts", "proc", "sysfs", "cgroup")


def _fields(node: Node) -> dict[str, Node]:
    assert isinstance(node.value, dict)
    return node.value


def _items(node: Node) -> list[Node]:
    assert isinstance(node.value, list)
    return node.value


def capabilities(node: Node) -> Iterator[Issue]:
    """Known capability names; a lone "all" or "none" stands for every or no capability."""
    items = _items(node)
    if len(items) == 1 and str(items[0].value).lower() in CAPABILITY_WORDS:
        return
    for i, item in enumerate(items):
        name = str(item.value)
        if name in CAPABILITIES:
            continue
        message = f'unknown capability "{name}"'
        fixed = name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper()
        if fixed in CAPABILITIES:
            message += f' (did you mean "{fixed}"?)'
        elif name.lower() in CAPABILITY_WORDS:
            message += f' ("{name}" must be the only entry)'
        yield Issue(f"[{i}]", item.line, message)


def bind(value: str) -> str | None:
    """``src:dst[:opts]``."""
    parts = value.split(":")
    if len(parts) < 2:
        return f'cannot parse bind "{value}": expected src:dst[:options]'
    if len(parts) > 3:
        return f'cannot parse bind "{value}": too many ":"'
    if not parts[0] or not parts[1]:
        return f'cannot parse bind "{value}": empty source or destination'
    return None


def tmpfs(value: str) -> str | None:
    """``/dst[:opts]``."""
    parts = value.split(":")
    if len(parts) > 2:
        return f'cannot parse tmpfs "{value}": too many ":"'
    if not parts[0]:
        return f'cannot parse tmpfs "{value}": empty destination'
    return None


def _rlimit_value(text: str) -> bool:
    text = text.strip()
    return text.lower() == "unlimited" or (text.isascii() and text.isdigit() and int(text) <= UNLIMITED)


def rlimit(value: str) -> str | None:
    """``name,soft,hard``: name with or without ``RLIMIT_``, any case; numbers or ``unlimited``."""
    parts = value.split(",", 2)
    if len(parts) != 3:
        return f'cannot parse rlimit "{value}": expected name,soft,hard'
    name = parts[0].strip().upper()
    if not name.startswith("RLIMIT_"):
        name = "RLIMIT_" + name
    if name not in RLIMITS:
        return f'unknown rlimit "{parts[0].strip()}" in "{value}"'
    for limit in parts[1:]:
        if not _rlimit_value(limit):
            return f'cannot parse rlimit "{value}": "{limit.strip()}" is not a number or "unlimited"'
    return None


def octal_mode(value: str) -> str | None:
    """An octal permission string such as "0644"."""
    if _OCTAL.fullmatch(value) and int(value, 8) < _INT32:
        return None
    return f'mode "{value}" is not an octal number'


def identity(value: Any) -> str | None:
    """A uid/gid: a number (32-bit, unsigned) or a container name."""
    if isinstance(value, int) and not 0 <= value < _UINT32:
        return f"id {value} is out of range (0 to {_UINT32 - 1})"
    return None


def uint32(value: Any) -> str | None:
    if not 0 <= value < _UINT32:
        return f"{value} is out of range (0 to {_UINT32 - 1})"
    return None


def container_name(value: str) -> str | None:
    """A container name: it names a directory of the root filesystem."""
    if not value:
        return "name must not be empty"
    if "/" in value or value in (".", ".."):
        return f'name "{value}" must not contain "/" or be "." or ".."'
    return None


def image_reference(value: str) -> str | None:
    """A reference LinuxKit can parse; ``@pkg:`` templates are expanded at build time."""
    if value.startswith("@pkg:"):
        return None
    if not value:
        return "image reference must not be empty"
    try:
        from lkcloud.oci.reference import parse
    except ImportError:  # pragma: no cover - the OCI package is always present in a full install
        return None
    try:
        parse(value)
    except LkcloudError as exc:
        return exc.message
    return None


def volume_name(value: str) -> str | None:
    if VOLUME_NAME.fullmatch(value):
        return None
    return f'invalid volume name "{value}": use lower-case letters, digits, "_" and "-"'


def volume(node: Node) -> Iterator[Issue]:
    if "name" not in _fields(node):
        yield Issue("", node.line, 'missing required key "name"')


def mount(node: Node) -> Iterator[Issue]:
    """A container mount: type and destination may be left out only where LinuxKit can infer them."""
    fields = {key: child.value for key, child in _fields(node).items()}
    kind, source, dest = fields.get("type") or "", fields.get("source") or "", fields.get("destination") or ""
    if not kind and source in _TYPE_FROM_SOURCE:
        kind = str(source)
    if not kind and dest == "/dev":
        kind = "tmpfs"
    if not kind:
        yield Issue("", node.line, f'mount for destination "{dest}" is missing "type"')
    elif not dest and str(kind) not in _DEFAULT_MOUNTPOINTS:
        yield Issue("", node.line, f'mount of type "{kind}" is missing "destination"')


def device(node: Node) -> Iterator[Issue]:
    """A device node, or ``path: all`` to allow a whole class of devices."""
    fields = _fields(node)
    for key in ("path", "type"):
        if key not in fields:
            yield Issue("", node.line, f'missing required key "{key}"')
    if "path" in fields and fields["path"].value != "all" and "mode" not in fields:
        yield Issue("", node.line, 'missing required key "mode" (an octal string such as "0666")')


def file_path(value: str) -> str | None:
    """A path inside the root filesystem."""
    relative = value.lstrip("/")
    if not relative:
        return "path must name a file below /"
    normal = posixpath.normpath(relative)
    if normal == ".." or normal.startswith("../") or normal == ".":
        return f'path "{value}" leaves the root filesystem'
    return None


def file_entry(node: Node) -> Iterator[Issue]:
    """One ``files:`` entry: exactly one way of giving its content."""
    fields = _fields(node)
    if "path" not in fields:
        yield Issue("", node.line, 'missing required key "path"')
    given = [key for key in ("contents", "source", "metadata") if key in fields]
    if len(given) > 1:
        yield Issue("", node.line, f'"{given[0]}" and "{given[1]}" are mutually exclusive')
    directory = fields.get("directory")
    if directory is not None and directory.value is True and given:
        yield Issue(".directory", directory.line, f'a directory cannot have "{given[0]}"')
    elif "symlink" in fields and ("source" in given or "metadata" in given):
        yield Issue(".symlink", fields["symlink"].line, f'a symlink cannot have "{given[-1]}"')
    elif not given and "symlink" not in fields and not (directory and directory.value is True):
        yield Issue("", node.line, 'no content: give "contents", "source", "metadata", "directory" or "symlink"')
