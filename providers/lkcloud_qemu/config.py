"""The QEMU provider's settings (flag > ``LKCLOUD_QEMU_*`` > lkcloud.toml ``[qemu]`` > default)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lkcloud import settings as lk_settings
from lkcloud.errors import ConfigError
from lkcloud_qemu.machine import AAVMF, OVMF

IMAGES = lk_settings.declare("qemu.images", "~/.lkcloud/qemu/images", "where 'lkcloud push qemu' keeps images")
STATE = lk_settings.declare("qemu.state", ".lkcloud/qemu", "root of the per-VM state directories")
MEM = lk_settings.declare("qemu.mem", 1024, "guest memory in MiB")
CPUS = lk_settings.declare("qemu.cpus", 1, "guest CPUs")
ACCEL = lk_settings.declare("qemu.accel", "auto", "accelerator: auto (KVM when it works), kvm or tcg")
FIRMWARE = lk_settings.declare("qemu.ovmf", str(OVMF), "OVMF firmware for UEFI images (package ovmf)")
ARM64_FIRMWARE = lk_settings.declare("qemu.aavmf", str(AAVMF),
                                     "AAVMF firmware for arm64 UEFI images (package qemu-efi-aarch64)")
TIMEOUT = lk_settings.declare("qemu.timeout", 120.0, "seconds --wait-for waits for the console")


@dataclass(frozen=True)
class QemuConfig:
    images: Path
    state_root: Path
    mem: int = 1024
    cpus: int = 1
    accel: str = "auto"
    ovmf: Path = OVMF
    timeout: float = 120.0
    aavmf: Path = AAVMF


def _number(resolved: lk_settings.Settings, setting: lk_settings.Setting, flag: float | None) -> float:
    value = resolved.get(setting, flag)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError([f"{setting.key}: expected a number, got {value!r}"])
    try:
        return float(value)
    except ValueError:
        raise ConfigError([f"{setting.key}: expected a number, got {value!r}"]) from None


def load(resolved: lk_settings.Settings | None = None, *, mem: int | None = None, cpus: int | None = None,
         accel: str | None = None, state_root: Path | None = None, images: Path | None = None,
         timeout: float | None = None) -> QemuConfig:
    """The settings, with flags (when given) taking precedence."""
    resolved = resolved or lk_settings.Settings()
    images_dir = resolved.path(IMAGES, images)
    root = resolved.path(STATE, state_root)
    ovmf, aavmf = resolved.path(FIRMWARE), resolved.path(ARM64_FIRMWARE)
    assert images_dir is not None and root is not None and ovmf is not None and aavmf is not None
    return QemuConfig(
        images=images_dir, state_root=root,
        mem=int(_number(resolved, MEM, mem)), cpus=int(_number(resolved, CPUS, cpus)),
        accel=str(resolved.get(ACCEL, accel)), ovmf=ovmf, timeout=_number(resolved, TIMEOUT, timeout), aavmf=aavmf,
    )
