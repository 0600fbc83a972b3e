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
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lkcloud.errors import ConfigError

T = TypeVar("T")

Value = str | int | float | bool | list[str] | None


@dataclass(frozen=True)
class Setting:
    """One configurable value: ``key`` is dotted (``section.name``)."""

    key: str
    default: Value = None
    help: str = ""

    @property
    def env(self) -> str:
        return "LKCLOUD_" + self.key.replace(".", "_").replace("-", "_").upper()


REGISTRY: dict[str, Setting] = {}


def declare(key: str, default: Value = None, help: str = "") -> Setting:
    """Declare a setting once, at import time of the module that owns it."""
    setting = Setting(key, default, help)
    REGISTRY[key] = setting
    return setting


CACHE = declare("cache", "~/.lkcloud/cache", "OCI image cache directory (LinuxKit-compatible layout)")
ARCH = declare("arch", None, "target architecture (amd64 or arm64); defaults to the host's")


def config_files(cwd: Path | None = None) -> list[Path]:
    """The config files consulted, in order of precedence."""
    here = (cwd or Path.cwd()) / "lkcloud.toml"
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


def _coerce(raw: str, like: Value) -> Value:
    if isinstance(like, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, float):
        return float(raw)
    if isinstance(like, list):
        return [part for part in raw.replace(",", " ").split() if part]
    return raw


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
            try:
                return _coerce(self._env[setting.env], setting.default), "env"
            except ValueError as exc:
                raise ConfigError([f"{setting.env}: {exc}"]) from exc
        for path, table in self._files:
            found, value = _lookup(table, setting.key)
            if found:
                return value, str(path)
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
