"""Accelerator choice: KVM only where it can run a guest."""

from __future__ import annotations

from pathlib import Path

import pytest

from lkcloud.errors import UsageError
from lkcloud_qemu.accel import Accel, Host, choose, kvm_problem


def _host(tmp_path: Path, *, device: bool = True, flags: str = "fpu vmx sse",
          modules: tuple[str, ...] = ("kvm",)) -> Host:
    dev = tmp_path / "kvm"
    if device:
        dev.write_bytes(b"")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    for module in modules:
        (tmp_path / "module" / module).mkdir(parents=True, exist_ok=True)
    return Host(kvm_device=dev, cpuinfo=cpuinfo, modules=tmp_path / "module")


def test_hardware_kvm_is_used(tmp_path: Path) -> None:
    host = _host(tmp_path)
    assert kvm_problem(host) is None
    assert choose("auto", host) is Accel.KVM


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"modules": ("kvm", "kvm_pvm")}, "kvm_pvm"),
        ({"flags": "fpu sse hypervisor"}, "no vmx or svm"),
        ({"device": False}, "does not exist"),
    ],
)
def test_falls_back_to_tcg(tmp_path: Path, kwargs: dict[str, object], reason: str) -> None:
    host = _host(tmp_path, **kwargs)  # type: ignore[arg-type]
    problem = kvm_problem(host)
    assert problem is not None and reason in problem
    assert choose("auto", host) is Accel.TCG


def test_explicit_choices(tmp_path: Path) -> None:
    pvm = _host(tmp_path, modules=("kvm_pvm",))
    assert choose("tcg", pvm) is Accel.TCG
    assert choose("kvm", pvm) is Accel.KVM  # an explicit override is honoured when /dev/kvm is usable
    with pytest.raises(UsageError, match="does not exist"):
        (tmp_path / "none").mkdir()
        choose("kvm", _host(tmp_path / "none", device=False))
    with pytest.raises(UsageError, match="unknown accelerator"):
        choose("hvf", pvm)


def test_this_host_uses_tcg_when_kvm_is_software() -> None:
    if not Path("/sys/module/kvm_pvm").exists() and Path("/dev/kvm").exists():
        pytest.skip("this host may have hardware KVM")
    assert choose("auto") is Accel.TCG
