"""Registry credentials and authentication challenges.

Credentials come, in order, from explicit options, the environment and the Docker keychain:

- ``LKCLOUD_REGISTRY_USERNAME`` and ``LKCLOUD_REGISTRY_PASSWORD`` (a password or access token),
  for the registry hosts ``LKCLOUD_REGISTRY_HOST`` names (``ghcr.io``, ``localhost:5000``; several
  separated by commas) and no other: the host is required, so a pair set for one registry is
  never offered to whichever registry a config names next;
- ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``: ``auths`` entries (``auth`` =
  base64 ``user:password``, or ``username``/``password``), each for its own host only, then
  ``credHelpers`` and ``credsStore`` through ``docker-credential-<name> get``.

Credentials are only ever sent to a registry (or its token realm) after it challenged with a 401.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lkcloud.errors import ToolFailedError, ToolMissingError, UsageError

ENV_USERNAME = "LKCLOUD_REGISTRY_USERNAME"
ENV_PASSWORD = "LKCLOUD_REGISTRY_PASSWORD"
ENV_HOST = "LKCLOUD_REGISTRY_HOST"
HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True)
class Credentials:
    username: str | None
    password: str | None = field(repr=False)

    def basic(self) -> str:
        raw = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def _host_of(key: str) -> str:
    """The host of an ``auths`` key: ``https://ghcr.io/v2/`` -> ``ghcr.io``."""
    return urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]


def _same_registry(key: str, host: str) -> bool:
    found = _host_of(key)
    return found == host or (found in _HUB_HOSTS and host in _HUB_HOSTS)


def from_env(host: str, env: Mapping[str, str]) -> Credentials | None:
    """The environment's credentials when ``LKCLOUD_REGISTRY_HOST`` names ``host``; UsageError
    when they are set without a host."""
    user, password = env.get(ENV_USERNAME), env.get(ENV_PASSWORD)
    if not user or not password:
        return None
    scoped = [part for part in (env.get(ENV_HOST) or "").replace(",", " ").split() if part]
    if not scoped:
        raise UsageError(
            f"{ENV_USERNAME} and {ENV_PASSWORD} are set but {ENV_HOST} is not",
            hint=f"set {ENV_HOST} to the registry they are for (e.g. ghcr.io): they are sent to no other",
        )
    if not any(_same_registry(key, host) for key in scoped):
        return None
    return Credentials(user, password)


def docker_config_path(env: Mapping[str, str]) -> Path:
    base = env.get("DOCKER_CONFIG")
    return (Path(base) if base else Path.home() / ".docker") / "config.json"


def _decode_auth(entry: Mapping[str, Any]) -> Credentials | None:
    if entry.get("auth"):
        try:
            user, sep, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return Credentials(user, password) if sep else None
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def _helper(name: str, host: str) -> Credentials | None:
    from lkcloud.process import run

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        return None
    server = "https://index.docker.io/v1/" if host in _HUB_HOSTS else host
    try:
        out = run([f"docker-credential-{name}", "get"], input=server.encode(), timeout=30).stdout
        found = json.loads(out)
    except (ToolMissingError, ToolFailedError, ValueError):
        return None
    user, secret = found.get("Username"), found.get("Secret")
    return Credentials(str(user), str(secret)) if secret else None


def from_docker_config(host: str, env: Mapping[str, str]) -> Credentials | None:
    path = docker_config_path(env)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    for key, entry in (doc.get("auths") or {}).items():
        if isinstance(entry, dict) and _same_registry(key, host):
            found = _decode_auth(entry)
            if found:
                return found
    helpers = doc.get("credHelpers") or {}
    name = next((v for k, v in helpers.items() if _same_registry(k, host)), None) or doc.get("credsStore")
    return _helper(str(name), host) if name else None


def lookup(host: str, env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for registry ``host`` from the environment, else the Docker keychain."""
    env = os.environ if env is None else env
    return from_env(host, env) or from_docker_config(host, env)


_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    """A ``WWW-Authenticate`` challenge: ``Bearer realm="…",service="…",scope="…"``."""

    scheme: str  # lowercase: "bearer" or "basic"
    params: tuple[tuple[str, str], ...] = ()

    def get(self, key: str) -> str | None:
        return dict(self.params).get(key)


def parse_challenge(header: str) -> Challenge | None:
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = tuple((m.group(1).lower(), m.group(2) if m.group(2) is not None else m.group(3))
                   for m in _PARAM.finditer(rest))
    return Challenge(scheme.lower(), params)
