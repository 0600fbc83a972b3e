"""Image references: ``redis`` -> ``docker.io/library/redis:latest``, as Docker and LinuxKit read them.

A reference is ``[domain/]path[:tag][@digest]``. The first component is a domain when it holds a
``.`` or a ``:`` or is ``localhost``; otherwise the domain is ``docker.io``, where one-component
paths live under ``library/``. A reference with a digest and no tag keeps no tag; one with neither
gets ``latest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lkcloud.errors import UsageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_REGISTRY = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
_SHA256 = re.compile(r"sha256:[a-f0-9]{64}")
_MAX_NAME = 255


@dataclass(frozen=True)
class Reference:
    """A parsed, normalised image reference."""

    domain: str  # "docker.io", "ghcr.io", "localhost:5000"
    path: str  # "library/redis"
    tag: str | None  # None only when a digest is given without a tag
    digest: str | None  # "sha256:<hex>"

    @property
    def name(self) -> str:
        """``domain/path``, the repository without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def registry(self) -> str:
        """The host (and port) to contact: Docker Hub's API host for ``docker.io``."""
        return DOCKER_HUB_REGISTRY if self.domain == DOCKER_HUB else self.domain

    @property
    def hostname(self) -> str:
        """The registry's host name without port (for matching settings such as insecure hosts)."""
        host = self.registry
        if host.startswith("["):
            return host[1 : host.index("]")]
        return host.rsplit(":", 1)[0] if ":" in host else host

    @property
    def target(self) -> str:
        """What to ask the registry for: the digest when known, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, self.tag, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_domain(remainder: str) -> tuple[str, str]:
    first, sep, rest = remainder.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        if not _DOMAIN.fullmatch(first):
            raise UsageError(f"invalid image reference: bad registry host {first!r}")
        domain = DOCKER_HUB if first.lower() in _HUB_ALIASES else first
        return domain, rest
    return DOCKER_HUB, remainder


def parse(ref: str) -> Reference:
    """Parse and normalise ``ref``; raises UsageError naming the problem when it is invalid."""
    text = ref.strip()
    if not text:
        raise UsageError("invalid image reference: empty")
    remainder, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise UsageError(f"invalid image reference {ref!r}: bad digest {digest!r}")
    if digest.startswith("sha256:") and not _SHA256.fullmatch(digest):
        raise UsageError(f"invalid image reference {ref!r}: a sha256 digest is 64 lowercase hex digits")
    domain, rest = _split_domain(remainder)
    path, tag = rest, None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        path, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise UsageError(f"invalid image reference {ref!r}: bad tag {tag!r}")
    components = path.split("/")
    for component in components:
        if not _COMPONENT.fullmatch(component):
            problem = "must be lowercase" if component.lower() != component else f"bad path component {component!r}"
            raise UsageError(f"invalid image reference {ref!r}: repository name {problem}")
    if domain == DOCKER_HUB and len(components) == 1:
        path = f"library/{path}"
    if len(f"{domain}/{path}") > _MAX_NAME:
        raise UsageError(f"invalid image reference {ref!r}: name longer than {_MAX_NAME} characters")
    if tag is None and not digest:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest or None)


def normalise(ref: str) -> str:
    """The canonical spelling: ``redis`` -> ``docker.io/library/redis:latest``."""
    return str(parse(ref))
