"""Load LinuxKit config files: strict YAML, schema, semantic checks, typed model, merging.

Every problem in every file is collected and raised together as one ``ConfigError`` whose
``problems`` each read ``file:line: key.path: message``.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from lkcloud.errors import ConfigError
from lkcloud.spec import document, rules, sources
from lkcloud.spec.convert import to_config
from lkcloud.spec.model import Config, File, Id, Image, Kernel, Location
from lkcloud.spec.schema import Problems

log = logging.getLogger(__name__)

_HINT = "see LinuxKit's docs/yaml.md for the configuration format"
STDIN = "-"  # a config file name that means standard input
STDIN_NAME = "<stdin>"
LINUXKIT_KEYS = frozenset({"kernel", "init", "onboot", "onshutdown", "services", "files", "volumes", "trust"})
FLEET_KEYS = frozenset({"provider", "size", "packages", "user_data", "user_data_file", "instance_type", "update"})


def _fleet_file(tree: document.Node, filename: str) -> str | None:
    """A problem when ``tree`` is a fleet file (``provider:``, ``size:``) rather than a LinuxKit config."""
    keys = set(tree.value) if isinstance(tree.value, dict) else set()
    if keys & LINUXKIT_KEYS or not keys & FLEET_KEYS:
        return None
    return (f"{filename}: this is a fleet file (it has {', '.join(sorted(keys & FLEET_KEYS))}), not a LinuxKit config;"
            f" use it with 'lkcloud fleet create|refresh {filename}'")


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
    fleet = _fleet_file(tree, filename)
    if fleet is not None:
        problems.append(fleet)
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


def _read(path: Path, problems: list[str]) -> tuple[str, str] | None:
    name = STDIN_NAME if str(path) == STDIN else str(path)
    try:
        data = sys.stdin.buffer.read() if str(path) == STDIN else path.read_bytes()
        return name, data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{name}: not UTF-8 text (byte {exc.start})")
    except OSError as exc:
        problems.append(f"{name}: cannot read: {exc.strerror or exc}")
    return None


def _check_paths(paths: Sequence[Path]) -> None:
    if not paths:
        raise ConfigError(["no configuration files given"])
    if sum(str(path) == STDIN for path in paths) > 1:
        raise ConfigError(["standard input ('-') can be given only once"])


def _merged(configs: list[Config], problems: list[str]) -> Config:
    if problems:
        raise ConfigError(problems, hint=_HINT)
    merged = merge(configs)
    problems = check(merged)
    if problems:
        raise ConfigError(problems, hint=_HINT)
    return merged


def load_files_with_sources(paths: Sequence[Path]) -> tuple[Config, list[tuple[str, str]]]:
    """The merged config and the ``(name, text)`` of each file; ``-`` is standard input (read
    once, named ``<stdin>``). Every problem of every file is reported together, in file order."""
    _check_paths(paths)
    problems: list[str] = []
    sources: list[tuple[str, str]] = []
    configs = []
    for path in paths:
        found = _read(path, problems)
        if found is not None:
            sources.append(found)
            config = _parse_one(found[1], found[0], problems)
            if config is not None:
                configs.append(config)
    return _merged(configs, problems), sources


def load_files(paths: Sequence[Path]) -> Config:
    """The files merged in order (LinuxKit's AppendConfig), checked as one config."""
    return load_files_with_sources(paths)[0]


def load_sources(sources: Sequence[tuple[str, str]]) -> Config:
    """Configs given as ``(name, text)``, merged in order and checked as one config."""
    if not sources:
        raise ConfigError(["no configuration files given"])
    problems: list[str] = []
    configs = [config for name, text in sources if (config := _parse_one(text, name, problems)) is not None]
    return _merged(configs, problems)
