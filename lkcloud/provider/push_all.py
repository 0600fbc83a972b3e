"""``lkcloud push all FILE.yml --to aws,gcp,azure``: one build, the pushes to every named cloud at
once, and one summary in which each cloud has its image id or its error. One cloud failing does
not stop the others."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lkcloud.errors import LkcloudError
from lkcloud.platform import Arch
from lkcloud.progress import NULL, Reporter, Task
from lkcloud.provider import records, registry
from lkcloud.provider.interface import Provider
from lkcloud.provider.release import build_artifacts
from lkcloud.provider.types import PushResult
from lkcloud.settings import Settings


@dataclass(frozen=True)
class CloudPush:
    provider: str
    result: PushResult | None = None
    error: str | None = None
    hint: str | None = None

    @property
    def id(self) -> str | None:
        return self.result.id if self.result else None


@dataclass(frozen=True)
class PushAll:
    succeeded: bool
    pushes: tuple[CloudPush, ...]


class _Prefixed:
    """Status lines of one cloud's push, prefixed with its name (pushes run side by side)."""

    def __init__(self, inner: Reporter, prefix: str) -> None:
        self._inner = inner
        self._prefix = prefix

    def step(self, message: str) -> None:
        self._inner.step(f"{self._prefix}: {message}")

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        return self._inner.task(f"{self._prefix}: {description}", total, unit)


def _failed(name: str, exc: LkcloudError) -> CloudPush:
    return CloudPush(name, error=exc.message, hint=exc.hint)


def push_all(configs: Sequence[Path], clouds: Sequence[str], *, arch: Arch, name: str | None = None,
             settings: Settings | None = None, reporter: Reporter = NULL) -> PushAll:
    """Build ``configs`` once into each cloud's format and push to every cloud concurrently."""
    outcomes: dict[str, CloudPush] = {}
    providers: dict[str, Provider] = {}
    for cloud in dict.fromkeys(clouds):
        try:
            providers[cloud] = registry.load(cloud, settings or Settings())
        except LkcloudError as exc:
            outcomes[cloud] = _failed(cloud, exc)
    if providers:
        fmts = [provider.image_format for provider in providers.values()]
        artifacts = build_artifacts(configs, fmts, arch=arch, name=name, reporter=reporter)

        def one(cloud: str) -> CloudPush:
            provider = providers[cloud]
            try:
                result = provider.push(artifacts[provider.image_format], _Prefixed(reporter, cloud))
            except LkcloudError as exc:
                return _failed(cloud, exc)
            records.record(result)
            return CloudPush(cloud, result)

        with ThreadPoolExecutor(max_workers=len(providers), thread_name_prefix="push") as pool:
            for done in pool.map(one, list(providers)):
                outcomes[done.provider] = done
    ordered = tuple(outcomes[cloud] for cloud in dict.fromkeys(clouds))
    return PushAll(all(o.error is None for o in ordered), ordered)


def text(summary: PushAll) -> str:
    lines = []
    for outcome in summary.pushes:
        if outcome.result is not None:
            note = " (already there)" if outcome.result.reused else ""
            lines.append(f"{outcome.provider}\t{outcome.result.id}{note}")
        else:
            hint = f" ({outcome.hint})" if outcome.hint else ""
            lines.append(f"{outcome.provider}\tFAILED: {outcome.error}{hint}")
    return "\n".join(lines)
