"""Settings in one place: flag > ``LKCLOUD_*`` > the cloud's own variables > config files > default.

Each setting is declared once, as a :class:`Setting` with its key, default, type and help; the
environment variable is derived from the key (``aws.region`` -> ``LKCLOUD_AWS_REGION``), and a
setting may name its cloud's own variables too (``AWS_REGION``), consulted after it. Config files
are TOML: the nearest ``lkcloud.toml`` in the working directory or a parent (as git finds its
repository), then ``~/.config/lkcloud/config.toml``; a section per provider holds that provider's
defaults::

    cache = "/var/cache/lkcloud"
    [aws]
    region = "eu-west-1"
    [gcp]
    project = "my-project"
    zone = "europe-west1-b"

A config file is checked whole when it is read: an unknown key or a value of the wrong type is an
error naming the file, the line and the key, with the nearest known key as a suggestion.

A setting that would loosen security (registry transport, limits, host files) is declared with
``not_from_project``: a project's ``lkcloud.toml``, often from a cloned repository, cannot set it.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lkcloud.errors import ConfigError
from lkcloud.platform import Arch, host_arch, parse_arch

log = logging.getLogger(__name__)
_WARNED: set[tuple[Path, str]] = set()  # (project file, key) already reported as ignored

Value = str | int | float | bool | list[str] | None

PROJECT_FILE = "lkcloud.toml"
_KINDS: dict[type, str] = {bool: "true or false", int: "a whole number", float: "a number", str: "text",
                           list: "a list of words"}


@dataclass(frozen=True)
class Setting:
    """One configurable value: ``key`` is dotted (``section.name``); ``kind`` is the type every
    source is converted to (inferred from the default when not given); ``cloud_env`` names the
    cloud's own variables for it (``AWS_REGION``), consulted after ``LKCLOUD_*``."""

    key: str
    default: Value = None
    help: str = ""
    kind: type | None = None  # None: the default's type
    cloud_env: tuple[str, ...] = ()
    # Non-empty: never read from a project's lkcloud.toml (a cloned repository is not trusted to
    # loosen security); the text says what sets it instead (a flag, the env, the user's config).
    not_from_project: str = ""

    @property
    def type(self) -> type:
        return self.kind or _infer(self.default)

    def convert(self, value: Any, source: str) -> Value:
        """``value`` (from ``source``: an env variable, a file) as this setting's kind; ConfigError
        naming the setting and the source otherwise."""
        if value is None:
            return None
        try:
            return _convert(value, self.type)
        except (TypeError, ValueError):
            raise ConfigError([f"{source}: {self.key} expects {_KINDS.get(self.type, self.type.__name__)},"
                               f" got {value!r}"]) from None

    @property
    def env(self) -> str:
        return "LKCLOUD_" + self.key.replace(".", "_").replace("-", "_").upper()


REGISTRY: dict[str, Setting] = {}


def _infer(default: Value) -> type:
    for kind in (bool, int, float, list):
        if isinstance(default, kind):
            return kind
    return str


def declare(key: str, default: Value = None, help: str = "", kind: type | None = None,
            cloud_env: tuple[str, ...] = (), *, not_from_project: str = "") -> Setting:
    """Declare a setting once, at import time of the module that owns it."""
    setting = Setting(key, default, help, kind, tuple(cloud_env), not_from_project)
    REGISTRY[key] = setting
    return setting


CACHE = declare("cache", "~/.lkcloud/cache", "OCI image cache directory (LinuxKit-compatible layout)")
ARCH = declare("arch", None, "target architecture (amd64 or arm64); defaults to the host's")

# Core modules that declare settings at import time (absent ones are skipped); each provider
# package (``lkcloud_<name>``) declares its own in ``settings`` (or ``config``).
DECLARING_MODULES = ("lkcloud.oci.registry", "lkcloud.fleet.defaults")
PROVIDER_SETTINGS = ("settings", "config")


def _import(name: str) -> Any:
    """The module ``name``, or None when it (or its package) is absent or its imports fail
    (a provider whose extra is missing declares nothing)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        log.debug("settings of %s not loaded: %s", name, exc)
        return None


def declared() -> dict[str, Setting]:
    """Every setting lkcloud knows, its declaring modules imported."""
    for name in DECLARING_MODULES:
        _import(name)
    for provider in _provider_names():
        for module in PROVIDER_SETTINGS:
            if _import(f"lkcloud_{provider}.{module}") is not None:
                break
    return dict(sorted(REGISTRY.items()))


def _provider_names() -> list[str]:
    from lkcloud.provider.registry import PROVIDERS

    return list(PROVIDERS)


# --- config files ---------------------------------------------------------------------------------
def project_file(cwd: Path | None = None) -> Path | None:
    """The nearest ``lkcloud.toml`` in ``cwd`` or one of its parents."""
    start = (cwd or Path.cwd()).absolute()
    for directory in (start, *start.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def user_file() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "lkcloud" / "config.toml"


def config_files(cwd: Path | None = None) -> list[Path]:
    """The config files consulted, in order of precedence (absent ones included)."""
    found = project_file(cwd)
    return [found or (cwd or Path.cwd()) / PROJECT_FILE, user_file()]


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


def _unquote(dotted: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in dotted.split("."))


def key_lines(text: str) -> dict[str, int]:
    """``{dotted key: line}`` for the assignments of a TOML text (enough to point at a key)."""
    lines: dict[str, int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            section = _unquote(header.group(1)) + "."
            continue
        assign = _ASSIGN.match(line)
        if assign:
            lines.setdefault(section + _unquote(assign.group(1)), number)
    return lines


@dataclass(frozen=True)
class ConfigFile:
    """A read TOML config file: its values and the line of each key."""

    path: Path
    table: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)

    def lookup(self, key: str) -> tuple[bool, Any]:
        node: Any = self.table
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return False, None
            node = node[part]
        return True, node


def read_config_file(path: Path) -> ConfigFile:
    """The file's values (empty when it does not exist); ConfigError when it is not valid TOML."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ConfigFile(path)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    try:
        text = raw.decode("utf-8")
        table = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start})"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: {exc}"], hint="fix the TOML syntax of the config file") from exc
    return ConfigFile(path, table, key_lines(text))


def _leaves(table: Mapping[str, Any], known: Mapping[str, Setting], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``(dotted key, value)`` of a TOML table; a table is a section unless a setting has its key."""
    for name, value in table.items():
        key = prefix + name
        if isinstance(value, Mapping) and key not in known:
            yield from _leaves(value, known, key + ".")
        else:
            yield key, value


def check_file(config: ConfigFile, known: Mapping[str, Setting]) -> list[str]:
    """Every unknown key (with the nearest known one) and every value of the wrong type."""
    problems = []
    for key, value in _leaves(config.table, known):
        setting = known.get(key)
        if setting is None:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            guess = f' (did you mean "{close[0]}"?)' if close else ""
            problems.append(f'{config.where(key)}: unknown key "{key}"{guess}')
            continue
        try:
            setting.convert(value, config.where(key))
        except ConfigError as exc:
            problems.extend(exc.problems)
    return problems


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _convert(value: Any, kind: type) -> Value:
    """A value from the environment (text) or a TOML file (typed) as ``kind``."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool | float):
            raise ValueError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind is list:
        if isinstance(value, list) and all(isinstance(part, str) for part in value):
            return list(value)
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        raise ValueError(value)
    if isinstance(value, dict | list | bool):
        raise ValueError(value)
    return str(value)


# --- resolution ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from: ``source`` is ``flag``, ``env``, ``file`` or
    ``default``; ``origin`` names it (``LKCLOUD_CACHE``, ``AWS_REGION``, ``lkcloud.toml:3``)."""

    setting: Setting
    value: Value
    source: str
    origin: str
    file: Path | None = None


def _ignored(path: Path, setting: Setting) -> None:
    """Say once that a project's lkcloud.toml may not set ``setting`` (it would loosen security)."""
    if (path, setting.key) not in _WARNED:
        _WARNED.add((path, setting.key))
        log.warning("%s: %s ignored: it is not taken from a project's %s (%s)", path, setting.key, PROJECT_FILE,
                    setting.not_from_project)


class Settings:
    """Resolves declared settings from flags, the environment and the config files."""

    def __init__(self, *, files: list[Path] | None = None, env: Mapping[str, str] | None = None) -> None:
        self._env = dict(os.environ if env is None else env)
        self.files = [read_config_file(path) for path in (config_files() if files is None else files)]
        known = declared() if any(config.table for config in self.files) else {}
        problems = [problem for config in self.files for problem in check_file(config, known)]
        if problems:
            raise ConfigError(problems, hint="'lkcloud config list' shows every setting and its key")

    def explain(self, setting: Setting, flag: Value = None, flag_name: str = "flag") -> Resolved:
        """The value of ``setting`` and its origin, in the one order of precedence."""
        if flag is not None:
            return Resolved(setting, flag, "flag", flag_name)
        for name in (setting.env, *setting.cloud_env):
            raw = self._env.get(name, "")
            if raw != "":
                return Resolved(setting, setting.convert(raw, f"{name}={raw}"), "env", name)
        for config in self.files:
            found, value = config.lookup(setting.key)
            if found and setting.not_from_project and config.path.name == PROJECT_FILE:
                _ignored(config.path, setting)
            elif found:
                where = config.where(setting.key)
                return Resolved(setting, setting.convert(value, where), "file", where, config.path)
        return Resolved(setting, setting.default, "default", "default")

    def resolve(self, setting: Setting, flag: Value = None) -> tuple[Value, str]:
        """The value and where it came from (``flag``, ``env``, a file path, ``default``)."""
        found = self.explain(setting, flag)
        return found.value, str(found.file) if found.file is not None else found.source

    def get(self, setting: Setting, flag: Value = None) -> Value:
        """The value of ``setting``: the flag if given, else env, else config files, else default."""
        return self.explain(setting, flag).value

    def text(self, setting: Setting, flag: str | None = None) -> str | None:
        value = self.get(setting, flag)
        return None if value is None else str(value)

    def path(self, setting: Setting, flag: str | os.PathLike[str] | None = None) -> Path | None:
        value = self.get(setting, None if flag is None else os.fspath(flag))
        return None if value is None else Path(str(value)).expanduser()

    def listing(self) -> list[Resolved]:
        """Every declared setting, resolved without flags (``lkcloud config list``); a ConfigError
        names every value that is of the wrong type."""
        found, problems = [], []
        for setting in declared().values():
            try:
                found.append(self.explain(setting))
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return found


def cache_dir(settings: Settings | None = None, flag: str | os.PathLike[str] | None = None) -> Path:
    """The image cache directory (``--cache`` > ``LKCLOUD_CACHE`` > config > default)."""
    path = (settings or Settings()).path(CACHE, flag)
    assert path is not None
    return path


def target_arch(flag: str | None = None, settings: Settings | None = None) -> Arch:
    """The architecture to build for: ``--arch`` > ``LKCLOUD_ARCH`` > config > this machine's;
    a bad value is a UsageError naming where it came from."""
    found = (settings or Settings()).explain(ARCH, flag, "--arch")
    if found.value is None:
        return host_arch()
    return parse_arch(str(found.value), found.origin if found.source != "flag" else "--arch")


def user_cache_dir() -> Path:
    """lkcloud's own cache of derived files (Debian packages, learnt boot loader bytes):
    ``$XDG_CACHE_HOME/lkcloud``, else ``~/.cache/lkcloud``. The image cache is :func:`cache_dir`."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lkcloud"
