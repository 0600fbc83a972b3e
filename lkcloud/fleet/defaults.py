"""Each provider's fleet defaults, as data (``templates/fleets.yml``): the instance type (per
architecture), the health check and the rolling-update policy."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from lkcloud import settings as lk_settings
from lkcloud.errors import ConfigError, UsageError
from lkcloud.fleet.schema import HEALTH, INSTANCE_TYPE, UPDATE, optional
from lkcloud.platform import Arch, parse_arch
from lkcloud.provider.registry import PROVIDERS
from lkcloud.provider.types import HealthCheck, UpdatePolicy
from lkcloud.spec.document import parse
from lkcloud.spec.schema import Obj, Problems

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
DEFAULTS = lk_settings.declare("fleet.defaults", str(TEMPLATES / "fleets.yml"),
                               "each provider's fleet defaults (instance types, health checks, update policy)")

_PROVIDER = Obj({"instance_type": optional(INSTANCE_TYPE), "health_check": HEALTH, "update": UPDATE})
SCHEMA = Obj({name: _PROVIDER for name in PROVIDERS})


@dataclass(frozen=True)
class FleetDefaults:
    provider: str
    instance_types: dict[str, str] = field(default_factory=dict)  # arch -> type ("*": every arch)
    health: HealthCheck = field(default_factory=HealthCheck)
    update: UpdatePolicy = field(default_factory=UpdatePolicy)

    def instance_type(self, arch: Arch = Arch.AMD64) -> str | None:
        return self.instance_types.get(str(arch)) or self.instance_types.get("*")


def instance_types(value: Any) -> dict[str, str]:
    """A plain string (every arch) or a per-architecture mapping, with arch aliases folded."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"*": value}
    return {str(parse_arch(arch)): str(kind) for arch, kind in value.items()}


def read_yaml(path: Path) -> Any:
    """A YAML file as located nodes; UsageError (one line) when it cannot be read."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse(text, str(path))


def health(values: dict[str, Any] | None, base: HealthCheck | None = None) -> HealthCheck:
    return replace(base or HealthCheck(), **(values or {}))


def update(values: dict[str, Any] | None, base: UpdatePolicy | None = None) -> UpdatePolicy:
    return replace(base or UpdatePolicy(), **(values or {}))


@cache
def _load(path: Path) -> dict[str, FleetDefaults]:
    found = {name: FleetDefaults(name) for name in PROVIDERS}
    if not path.is_file():
        return found
    root = read_yaml(path)
    problems = Problems(str(path))
    if not SCHEMA.walk(root, "", problems):
        raise ConfigError(problems.items)
    for name, values in (root.plain() or {}).items():
        found[name] = FleetDefaults(name, instance_types(values.get("instance_type")),
                                    health(values.get("health_check")), update(values.get("update")))
    return found


def load_defaults(path: Path | None = None) -> dict[str, FleetDefaults]:
    """Every provider's fleet defaults (built-in values for a provider the file leaves out)."""
    chosen = path or lk_settings.Settings().path(DEFAULTS)
    assert chosen is not None
    return _load(chosen.resolve())


def defaults(provider: str) -> FleetDefaults:
    return load_defaults()[provider]


def instance_type(provider: str, arch: Arch, *chosen: str | None, flag: str = "--instance-type") -> str:
    """The first of ``chosen`` that is set (the flag, then the provider's own setting), else the
    provider's default for ``arch`` from templates/fleets.yml; UsageError when there is none."""
    found = next((value for value in chosen if value), None) or defaults(provider).instance_type(arch)
    if not found:
        raise UsageError(f"no instance type for {provider} on {arch}", hint=f"pass {flag}")
    return found
