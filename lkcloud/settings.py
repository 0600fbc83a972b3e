"""Settings in one place: flag > environment (``LKCLOUD_*``) > config file > default.

Each setting is declared once, as a :class:`Setting` with its key, default and help; the
environment variable is derived from the key (``aws.region`` -> ``LKCLOUD_AWS_REGION``). Config
files are TOML: ``lkcloud.toml`` in the working directory, then
``~/.config/lkcloud/config.toml``; a section per provider holds that provider's defaults::

    cache = "/var/cache/lkcloud"
    [aws]
    region = "eu-west-1"
    [gcp]
    project = "my-project"
    zone = "europe-west1-b"

A setting that would loosen security (registry transport, limits, host files) is declared with
``not_from_project``: a project's ``lkcloud.toml``, often from a cloned repository, cannot set it.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lkcloud.errors import ConfigError

T = TypeVar("T")
log = logging.getLogger(__name__)
_WARNED: set[tuple[Path, str]] = set()  # (project file, key) already reported as ignored

Value = str | int | float | bool | list[str] | None


_KINDS: dict[type, str] = {bool: "true or false", int: "a whole number", float: "a number", str: "text",
                           list: "a list of words"}


@dataclass(frozen=True)
class Setting:
    """One configurable value: ``key`` is dotted (``section.name``); ``kind`` is the type every
    source is converted to (inferred from the default when not given)."""

    key: str
    default: Value = None
    help: str = ""
    kind: type | None = None  # None: the default's type
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


def declare(key: str, default: Value = None, help: str = "", kind: type | None = None, *,
            not_from_project: str = "") -> Setting:
    """Declare a setting once, at import time of the module that owns it."""
    setting = Setting(key, default, help, kind, not_from_project)
    REGISTRY[key] = setting
    return setting


PROJECT_FILE = "lkcloud.toml"  # a project's settings (the working directory's); the user's is config.toml
CACHE = declare("cache", "~/.lkcloud/cache", "OCI image cache directory (LinuxKit-compatible layout)")
ARCH = declare("arch", None, "target architecture (amd64 or arm64); defaults to the host's")


def config_files(cwd: Path | None = None) -> list[Path]:
    """The config files consulted, in order of precedence."""
    here = (cwd or Path.cwd()) / PROJECT_FILE
    home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "lkcloud" / "config.toml"
    return [here, home]


def _load_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: {exc}"], hint="fix the TOML syntax of the config file") from exc
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc


def _lookup(table: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = table
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


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


class Settings:
    """Resolves declared settings from flags, the environment and the config files."""

    def __init__(self, *, files: list[Path] | None = None, env: Mapping[str, str] | None = None) -> None:
        self._env = dict(os.environ if env is None else env)
        self._files = [(path, _load_file(path)) for path in (config_files() if files is None else files)]

    def get(self, setting: Setting, flag: Value = None) -> Value:
        """The value of ``setting``: the flag if given, else env, else config files, else default."""
        return self.resolve(setting, flag)[0]

    def resolve(self, setting: Setting, flag: Value = None) -> tuple[Value, str]:
        """The value and where it came from (``flag``, ``env``, a file path, ``default``)."""
        if flag is not None:
            return flag, "flag"
        if setting.env in self._env and self._env[setting.env] != "":
            raw = self._env[setting.env]
            return setting.convert(raw, f"{setting.env}={raw}"), "env"
        for path, table in self._files:
            found, value = _lookup(table, setting.key)
            if found and setting.not_from_project and path.name == PROJECT_FILE:
                if (path, setting.key) not in _WARNED:
                    _WARNED.add((path, setting.key))
                    log.warning("%s: %s ignored: it is not taken from a project's %s (%s)", path, setting.key,
                                PROJECT_FILE, setting.not_from_project)
            elif found:
                return setting.convert(value, str(path)), str(path)
        return setting.default, "default"

    def text(self, setting: Setting, flag: str | None = None) -> str | None:
        value = self.get(setting, flag)
        return None if value is None else str(value)

    def path(self, setting: Setting, flag: str | os.PathLike[str] | None = None) -> Path | None:
        value = self.get(setting, None if flag is None else os.fspath(flag))
        return None if value is None else Path(str(value)).expanduser()


def cache_dir(settings: Settings | None = None, flag: str | os.PathLike[str] | None = None) -> Path:
    """The image cache directory (``--cache`` > ``LKCLOUD_CACHE`` > config > default)."""
    path = (settings or Settings()).path(CACHE, flag)
    assert path is not None
    return path


def user_cache_dir() -> Path:
    """lkcloud's own cache of derived files (Debian packages, learnt boot loader bytes):
    ``$XDG_CACHE_HOME/lkcloud``, else ``~/.cache/lkcloud``. The image cache is :func:`cache_dir`."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lkcloud"
