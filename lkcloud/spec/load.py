"""Load LinuxKit config files: strict YAML, schema, semantic checks, typed model, merging.

Every problem in every file is collected and raised together as one ``ConfigError`` whose
``problems`` each read ``file:line: key.path: message``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from lkcloud.errors import ConfigError
from lkcloud.spec import document, rules, sources
from lkcloud.spec.convert import to_config
from lkcloud.spec.model import Config, File, Id, Image, Kernel, Location
from lkcloud.spec.schema import Problems

log = logging.getLogger(__name__)

_HINT = "see LinuxKit's docs/yaml.md for the configuration format"


def _parse_one(text: str, filename: str, problems: list[str]) -> Config | None:
    """One file's model, or None with its problems appended to ``problems``."""
    try:
        tree = document.parse(text, filename)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None
    if tree.value is None:
        problems.append(f"{filename}: the file is empty")
        return None
    found = Problems(filename)
    if not rules.CONFIG.walk(tree, "", found):
        problems.extend(found.items)
        return None
    assert isinstance(tree.value, dict)
    if "trust" in tree.value:
        log.warning(
            "%s:%d: trust: ignored (LinuxKit no longer verifies image signatures)", filename, tree.value["trust"].line
        )
    return to_config(tree, filename)


def _kernel(base: Kernel, extra: Kernel) -> Kernel:
    """``AppendConfig``: kernel fields set (non-empty) in ``extra`` override."""
    changes: dict[str, object] = {}
    for name in ("image", "cmdline", "binary"):
        if getattr(extra, name):
            changes[name] = getattr(extra, name)
    for name in ("tar", "ucode"):  # pointers in LinuxKit: any value set overrides, even ""
        if getattr(extra, name) is not None:
            changes[name] = getattr(extra, name)
    if extra.location is not None:
        changes["location"] = extra.location
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def merge(configs: Iterable[Config]) -> Config:
    """Configs appended in order, as LinuxKit's AppendConfig does; no checks."""
    merged = Config()
    for config in configs:
        merged = Config(
            kernel=_kernel(merged.kernel, config.kernel),
            init=merged.init + config.init,
            onboot=merged.onboot + config.onboot,
            onshutdown=merged.onshutdown + config.onshutdown,
            services=merged.services + config.services,
            files=merged.files + config.files,
            volumes=merged.volumes + config.volumes,
            sources=merged.sources + config.sources,
        )
    return merged


def _at(location: Location | None, field: str) -> str:
    if location is None:  # pragma: no cover - the loader always sets locations
        return f"{field}:"
    return f"{location.file}:{location.line}: {location.path}.{field}:"


def _duplicates(config: Config) -> list[str]:
    problems = []
    seen: dict[str, Location | None] = {}
    for service in config.services:
        if service.name in seen:
            first = seen[service.name]
            where = f" (first at {first.file}:{first.line})" if first else ""
            problems.append(f'{_at(service.location, "name")} duplicate service name "{service.name}"{where}')
        seen.setdefault(service.name, service.location)
    volumes: dict[str, Location | None] = {}
    for volume in config.volumes:
        if volume.name in volumes:
            first = volumes[volume.name]
            where = f" (first at {first.file}:{first.line})" if first else ""
            problems.append(f'{_at(volume.location, "name")} duplicate volume name "{volume.name}"{where}')
        volumes.setdefault(volume.name, volume.location)
    return problems


def _ids(item: Image | File) -> Iterable[tuple[str, Id | None]]:
    settings = item.config if isinstance(item, Image) else item
    yield "uid", settings.uid
    yield "gid", settings.gid
    if isinstance(item, Image):
        for i, gid in enumerate(item.config.additional_gids or ()):
            yield f"additionalGids[{i}]", gid


def _unknown_ids(config: Config) -> list[str]:
    """uid/gid names must name a container (or be root): LinuxKit resolves them when it builds."""
    names = {image.name for image in (*config.onboot, *config.onshutdown, *config.services)}
    problems = []
    items: tuple[Image | File, ...] = (*config.onboot, *config.onshutdown, *config.services, *config.files)
    for item in items:
        for field, value in _ids(item):
            if isinstance(value, str) and value not in ("", "root") and value not in names:
                problems.append(f'{_at(item.location, field)} "{value}" is neither a number nor a container name')
    return problems


def check(config: Config) -> list[str]:
    """Checks of a whole (merged) config: unique names, resolvable ids, readable ``source:`` files."""
    return _duplicates(config) + _unknown_ids(config) + sources.problems(config)


def load_text(text: str, filename: str) -> Config:
    """A config from YAML text; ``filename`` names it in errors."""
    problems: list[str] = []
    config = _parse_one(text, filename, problems)
    if config is not None:
        problems.extend(check(config))
    if problems or config is None:
        raise ConfigError(problems, hint=_HINT)
    return config


def _read(path: Path, problems: list[str]) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{path}: not UTF-8 text (byte {exc.start})")
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror or exc}")
    return None


def load_files(paths: Sequence[Path]) -> Config:
    """The files merged in order (LinuxKit's AppendConfig), checked as one config."""
    if not paths:
        raise ConfigError(["no configuration files given"])
    problems: list[str] = []
    configs = []
    for path in paths:
        text = _read(path, problems)
        config = None if text is None else _parse_one(text, str(path), problems)
        if config is not None:
            configs.append(config)
    if problems:
        raise ConfigError(problems, hint=_HINT)
    merged = merge(configs)
    problems = check(merged)
    if problems:
        raise ConfigError(problems, hint=_HINT)
    return merged
