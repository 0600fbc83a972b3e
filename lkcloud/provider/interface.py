"""The provider interface: what AWS, GCP, Azure and QEMU each implement.

A provider package holds only its SDK calls and a table of its own extra options
(:class:`~lkcloud.provider.options.ProviderOption`); the core does the rest once for all of
them: the CLI verbs, building and recording releases (:mod:`lkcloud.provider.release`), retries
and waits (:mod:`lkcloud.provider.calls`), prune policy, tags and rendering.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from lkcloud.progress import NULL, Reporter
from lkcloud.provider.types import (
    Artifact,
    FleetSpec,
    FleetStatus,
    ImageRecord,
    PushResult,
    RefreshResult,
    RunRequest,
    RunResult,
    UpdatePolicy,
)
from lkcloud.settings import Settings


class Provider(Protocol):
    """What every provider implements. Construction is always ``from_settings``: each flag the
    provider's option table declares arrives typed (None when not given), and the provider
    resolves the rest from ``settings`` (environment, config files, defaults)."""

    name: ClassVar[str]

    @classmethod
    def from_settings(cls, settings: Settings, **flags: Any) -> Provider: ...

    @property
    def image_format(self) -> str:
        """The ``lkcloud build -f`` format push expects, for what the provider runs."""
        ...

    def push(self, artifact: Artifact, reporter: Reporter = NULL) -> PushResult:
        """Upload and register ``artifact``, reusing an identical image; idempotent."""
        ...

    def resolve_image(self, ref: str) -> str:
        """The image id for a user's reference (an id, a name, a family...); UsageError if none."""
        ...

    def run(self, request: RunRequest, reporter: Reporter = NULL) -> RunResult: ...

    def fleet_create(self, spec: FleetSpec, reporter: Reporter = NULL) -> FleetStatus: ...

    def fleet_status(self, name: str) -> FleetStatus: ...

    def fleet_scale(self, name: str, size: int, reporter: Reporter = NULL) -> FleetStatus: ...

    def fleet_refresh(self, name: str, image: str | None, user_data: bytes | None, policy: UpdatePolicy,
                      reporter: Reporter = NULL) -> RefreshResult:
        """Roll the fleet onto ``image`` (None: keep it) and/or ``user_data`` (None: keep it).
        A rollout that stops returns ``succeeded=False`` with the old instances serving."""
        ...

    def fleet_delete(self, name: str, reporter: Reporter = NULL) -> None:
        """Delete the fleet and everything lkcloud made for it; returns once it is gone."""
        ...

    def images_list(self) -> list[ImageRecord]:
        """lkcloud's images, each with its family, creation time and whether it is in use."""
        ...

    def image_delete(self, record: ImageRecord, reporter: Reporter = NULL) -> None:
        """Delete one image and what it alone holds (snapshots, blobs); prune decides which."""
        ...
