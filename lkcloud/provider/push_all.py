"""``lkcloud push all FILE.yml --to aws,gcp,azure [--arch amd64 --arch arm64]``: one build per
architecture, the pushes to every named cloud at once, and one summary in which each cloud (and
architecture) has its image id or its error. One cloud failing does not stop the others."""

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
    arch: str
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


def _failed(name: str, arch: Arch, exc: LkcloudError) -> CloudPush:
    return CloudPush(name, str(arch), error=exc.message, hint=exc.hint)


def _name(name: str | None, configs: Sequence[Path], arch: Arch, arches: Sequence[Arch]) -> str | None:
    """Each architecture's build is named NAME-ARCH when there are several."""
    if len(arches) == 1:
        return name
    return f"{name or configs[0].name.rsplit('.', 1)[0]}-{arch}"


def push_all(configs: Sequence[Path], clouds: Sequence[str], *, arches: Sequence[Arch], name: str | None = None,
             settings: Settings | None = None, reporter: Reporter = NULL) -> PushAll:
    """Build ``configs`` once per architecture into each cloud's format, and push every build to
    every cloud concurrently (each to the image type of its architecture)."""
    targets = list(dict.fromkeys(arches))
    outcomes: dict[tuple[str, str], CloudPush] = {}
    providers: dict[str, Provider] = {}
    for cloud in dict.fromkeys(clouds):
        try:
            providers[cloud] = registry.load(cloud, settings or Settings())
        except LkcloudError as exc:
            for arch in targets:
                outcomes[cloud, str(arch)] = _failed(cloud, arch, exc)
    if providers:
        fmts = [provider.image_format for provider in providers.values()]
        builds = {arch: build_artifacts(configs, fmts, arch=arch, name=_name(name, configs, arch, targets),
                                        reporter=reporter) for arch in targets}

        def one(job: tuple[str, Arch]) -> CloudPush:
            cloud, arch = job
            provider = providers[cloud]
            prefix = cloud if len(targets) == 1 else f"{cloud} {arch}"
            try:
                result = provider.push(builds[arch][provider.image_format], _Prefixed(reporter, prefix))
            except LkcloudError as exc:
                return _failed(cloud, arch, exc)
            records.record(result)
            return CloudPush(cloud, str(arch), result)

        jobs = [(cloud, arch) for cloud in providers for arch in targets]
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="push") as pool:
            for done in pool.map(one, jobs):
                outcomes[done.provider, done.arch] = done
    ordered = tuple(outcomes[cloud, str(arch)] for cloud in dict.fromkeys(clouds) for arch in targets)
    return PushAll(all(o.error is None for o in ordered), ordered)


def text(summary: PushAll) -> str:
    lines = []
    for outcome in summary.pushes:
        if outcome.result is not None:
            note = " (already there)" if outcome.result.reused else ""
            lines.append(f"{outcome.provider}\t{outcome.arch}\t{outcome.result.id}{note}")
        else:
            hint = f" ({outcome.hint})" if outcome.hint else ""
            lines.append(f"{outcome.provider}\t{outcome.arch}\tFAILED: {outcome.error}{hint}")
    return "\n".join(lines)
