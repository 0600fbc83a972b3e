"""The ``files:`` section, written last so it wins (LinuxKit's ``filesystem()``).

Missing parent directories are created with the file's owner and its mode plus ``x`` wherever
``r`` or ``w`` is set; ``metadata`` writes the resolved configuration as YAML or JSON.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from collections.abc import Callable, Iterator, Mapping

import yaml

from lkcloud.assemble.ociconfig import id_number
from lkcloud.errors import BuildError
from lkcloud.oci.limits import FILE_SIZE, LimitError, Limits, human
from lkcloud.oci.spool import Data, Spool
from lkcloud.oci.unpack import DIR, REG, SYMLINK, Entry
from lkcloud.spec import sources
from lkcloud.spec.model import Config, File, MetadataFormat

SOURCE = "linuxkit.files"

MetadataWriter = Callable[[Config, MetadataFormat], bytes]


def dir_mode(mode: int) -> int:
    """A parent directory's mode: ``x`` added to each class that has any permission."""
    for bits, execute in ((0o700, 0o100), (0o070, 0o010), (0o007, 0o001)):
        if mode & bits:
            mode |= execute
    return mode


def metadata(config: Config, kind: MetadataFormat) -> bytes:
    """The resolved configuration, as LinuxKit's ``metadata: yaml|json`` writes it."""
    from lkcloud.spec.dump import config_to_dict

    data = config_to_dict(config)
    if kind is MetadataFormat.JSON:
        return json.dumps(data, indent=4).encode()
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).encode()


def _read_source(f: File, index: int, spool: Spool, limits: Limits) -> Data | None:
    """A ``source:`` file's bytes (None when an optional one is missing), checked again as it is
    opened: the path the checks resolved, no symlink in its place, a regular file within the limit."""
    try:
        path = sources.resolve(f, sources.allowed())
        if path is None:
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except sources.SourceError as exc:
        raise BuildError(f"{sources.where(f, index)} {exc.message}", hint=exc.hint) from None
    except OSError as exc:
        raise BuildError(f"{sources.where(f, index)} cannot read source {f.source}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BuildError(f"{sources.where(f, index)} source {f.source} is not a regular file")
        data = spool.take_all(stream, limits.file_size)
        if len(data) > limits.file_size:
            raise LimitError(f"{sources.where(f, index)} source {f.source} is over the "
                             f"{human(limits.file_size)} limit for one file", hint=f"raise {FILE_SIZE.env}")
        return data


def _contents(f: File, index: int, config: Config, write_metadata: MetadataWriter, spool: Spool) -> Data | None:
    """The file's bytes; None when an optional source is missing."""
    where = f"files[{index}] ({f.path})"
    if f.metadata is not None:
        return write_metadata(config, f.metadata)
    if f.source is not None:
        return _read_source(f, index, spool, Limits.from_settings())
    if f.contents is None:
        raise BuildError(f"{where}: contents of file not specified", hint="give contents, source or metadata")
    return f.contents.encode()


def files(config: Config, ids: Mapping[str, int], mtime: int,
          write_metadata: MetadataWriter = metadata) -> Iterator[Entry]:
    """The entries of ``config.files`` in order, with their missing parents."""
    added: set[str] = set()
    spool = Spool()
    for index, f in enumerate(config.files):
        where = f"files[{index}] ({f.path})"
        name = f.path.lstrip("/")
        if not name:
            raise BuildError(f"{where}: did not specify path for file")
        if f.directory and f.contents is not None:
            raise BuildError(f"{where}: directory with contents not allowed")
        mode = f.mode if f.mode is not None else (0o700 if f.directory else 0o600)
        try:
            uid, gid = id_number(f.uid, ids), id_number(f.gid, ids)
        except BuildError as exc:
            raise BuildError(f"{where}: {exc.message}", hint=exc.hint) from None
        data: Data = b""
        if not f.directory and f.symlink is None:
            contents = _contents(f, index, config, write_metadata, spool)
            if contents is None:
                continue
            data = contents
        location = f"files[{index}]"
        parent = posixpath.dirname(name)
        parents = parent.split("/") if parent else []
        for depth in range(1, len(parents) + 1):
            path = "/".join(parents[:depth])
            if path not in added:
                added.add(path)
                yield Entry(path, DIR, dir_mode(mode), uid, gid, mtime, source=SOURCE, location=location)
        added.add(name)
        if f.directory:
            yield Entry(name, DIR, mode, uid, gid, mtime, source=SOURCE, location=location)
        elif f.symlink is not None:
            yield Entry(name, SYMLINK, mode, uid, gid, mtime, linkname=f.symlink, source=SOURCE, location=location)
        else:
            yield Entry(name, REG, mode, uid, gid, mtime, data=data, source=SOURCE, location=location)
