""""The image last pushed from this directory": one record per provider, in one format, used by
``run``, ``fleet`` and fleet files alike (kept in ``.lkcloud/state.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lkcloud import state
from lkcloud.provider.types import PushResult


@dataclass(frozen=True)
class PushRecord:
    provider: str
    id: str
    name: str
    family: str = ""
    digest: str = ""
    arch: str = "amd64"
    scope: dict[str, str] = field(default_factory=dict)  # option values the image lives under (region...)


def _section(provider: str, arch: str | None = None) -> str:
    return f"push.{provider}" + (f".{arch}" if arch else "")


def record(result: PushResult, cwd: Path | None = None) -> None:
    """Remember ``result`` as the last push to its provider (and to its provider for its arch)."""
    value = {"provider": result.provider, "id": result.id, "name": result.name, "family": result.family,
             "digest": result.digest, "arch": result.arch, "scope": dict(result.scope)}
    state.record(_section(result.provider), value, cwd)
    state.record(_section(result.provider, result.arch), value, cwd)


def last(provider: str, arch: str | None = None, cwd: Path | None = None) -> PushRecord | None:
    """The last push to ``provider`` from this directory (for ``arch`` when given), if any."""
    found = state.last(_section(provider, arch), cwd)
    if not found or not isinstance(found.get("id"), str):
        return None
    scope = found.get("scope") if isinstance(found.get("scope"), dict) else {}
    return PushRecord(provider=provider, id=found["id"], name=str(found.get("name", "")),
                      family=str(found.get("family", "")), digest=str(found.get("digest", "")),
                      arch=str(found.get("arch", "amd64")),
                      scope={str(k): str(v) for k, v in (scope or {}).items()})
