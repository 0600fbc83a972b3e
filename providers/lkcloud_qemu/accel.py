"""Choosing the accelerator: KVM only where it can really run a guest, TCG otherwise.

``/dev/kvm`` alone proves nothing: some hosts expose it from ``kvm_pvm`` (a software
"pagetable VM" without VT-x), where guests die after real-mode setup, and QEMU's
``-accel kvm -accel tcg`` does not fall back because KVM itself initialises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from lkcloud.errors import UsageError
from lkcloud.platform import Arch, host_arch


class Accel(StrEnum):
    AUTO = "auto"
    KVM = "kvm"
    TCG = "tcg"


@dataclass(frozen=True)
class Host:
    """The facts detection looks at; paths are parameters so tests can point elsewhere."""

    kvm_device: Path = Path("/dev/kvm")
    cpuinfo: Path = Path("/proc/cpuinfo")
    modules: Path = Path("/sys/module")


# Kernel modules that provide /dev/kvm without hardware virtualisation.
SOFTWARE_KVM_MODULES = ("kvm_pvm",)
HARDWARE_FLAGS = frozenset({"vmx", "svm"})


def _cpu_flags(cpuinfo: Path) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags.update(value.split())
    return flags


def _device_problem(host: Host) -> str | None:
    if not host.kvm_device.exists():
        return f"{host.kvm_device} does not exist"
    if not os.access(host.kvm_device, os.R_OK | os.W_OK):
        return f"{host.kvm_device} is not readable and writable by this user"
    return None


def kvm_problem(host: Host = Host()) -> str | None:
    """Why KVM cannot run a guest here, or None when it can."""
    problem = _device_problem(host)
    if problem is not None:
        return problem
    for module in SOFTWARE_KVM_MODULES:
        if (host.modules / module).exists():
            return f"{host.kvm_device} comes from {module} (no hardware virtualisation; guests die)"
    if not HARDWARE_FLAGS & _cpu_flags(host.cpuinfo):
        return "the CPU has no vmx or svm flag"
    return None


def choose(requested: Accel | str = Accel.AUTO, host: Host = Host()) -> Accel:
    """The accelerator to use: ``auto`` means KVM when it can run a guest, else TCG.

    An explicit ``kvm`` overrides the hardware checks (the person may know better) but still
    needs a usable ``/dev/kvm``.
    """
    try:
        wanted = Accel(requested)
    except ValueError:
        raise UsageError(f"unknown accelerator {requested!r}", hint="choose auto, kvm or tcg") from None
    if wanted is Accel.TCG:
        return Accel.TCG
    if wanted is Accel.KVM:
        problem = _device_problem(host)
        if problem is not None:
            raise UsageError(f"--accel kvm: {problem}", hint="use --accel tcg (slower, works everywhere)")
        return Accel.KVM
    return Accel.TCG if kvm_problem(host) is not None else Accel.KVM


def choose_for(guest: Arch, requested: Accel | str = Accel.AUTO, host: Host = Host()) -> Accel:
    """:func:`choose` for a guest of ``guest``'s architecture: KVM runs only this machine's own
    architecture, so another one (arm64 on amd64) is emulated by TCG."""
    chosen = choose(requested, host)
    if guest is host_arch() or chosen is Accel.TCG:
        return chosen
    if Accel(requested) is Accel.KVM:
        raise UsageError(f"--accel kvm: KVM cannot run an {guest} guest on this {host_arch()} machine",
                         hint="use --accel tcg (or auto)")
    return Accel.TCG
