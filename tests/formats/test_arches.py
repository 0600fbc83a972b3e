"""arm64 outputs: UEFI-only disks holding an arm64 UKI as BOOTAA64.EFI, an EFI-only ISO, and the
BIOS formats refused before any work. (Booting them is tests/pkg/test_boot.py's.)"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lkcloud.build import BuildOptions, build
from lkcloud.cli.main import main
from lkcloud.disk import efi, gpt
from lkcloud.disk.bootloader import FILES, BootFile
from lkcloud.errors import BuildError, UsageError
from lkcloud.formats import arches, table
from lkcloud.process import run
from lkcloud.progress import NULL
from tests.formats.support import content_digest, inputs_at

MIB = 1 << 20
ARM64_DISKS = ("raw-efi", "aws", "gcp", "vhd", "qcow2-efi", "iso-efi")
REFUSED = {"raw-bios": "raw-efi", "raw": "raw-efi", "qcow2-bios": "qcow2-efi", "iso-bios": "iso-efi",
           "vmdk": None, "dynamic-vhd": None}
ENV = {"MTOOLS_SKIP_CHECK": "1"}


def pe_machine(data: bytes) -> int:
    offset = struct.unpack_from("<I", data, 0x3C)[0]
    assert data[:2] == b"MZ" and data[offset:offset + 4] == b"PE\0\0"
    return int(struct.unpack_from("<H", data, offset + 4)[0])


@pytest.fixture(scope="module")
def arm64_built(kernel: Path, initrd: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The arm64 disk formats (the kernel's bytes do not matter to their structure)."""
    base = tmp_path_factory.mktemp("arm64")
    found = {}
    for name in ARM64_DISKS:
        inputs = inputs_at(base, kernel, initrd, outdir=base / name, arch="arm64")
        (found[name],) = table()[name].write(inputs, NULL)
    return found


def test_arm64_stub_comes_from_debian() -> None:
    stub = efi.uki_stub("arm64")
    assert stub.name == "linuxaa64.efi.stub"
    assert pe_machine(stub.read_bytes()) == 0xAA64
    assert pe_machine(efi.uki_stub("amd64").read_bytes()) == 0x8664


def test_a_stub_of_the_wrong_machine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    x64 = FILES["uki-stub"].path
    monkeypatch.setitem(FILES, "uki-stub-arm64", BootFile(x64, "systemd-boot-efi", "arm64"))
    with pytest.raises(BuildError, match=f"{x64} is not a UEFI stub for arm64"):
        efi.uki_stub("arm64")


def test_raw_efi_holds_the_arm64_uki(arm64_built: dict[str, Path], tmp_path: Path) -> None:
    disk = arm64_built["raw-efi"]
    with disk.open("rb") as fh:
        data = fh.read(34 * 512)
    assert not any(data[:440])  # no BIOS boot code
    header = gpt.read_header(data[512:1024])
    (esp,) = gpt.read_entries(data[1024:1024 + 16384], header)
    assert esp.type_guid == gpt.ESP_TYPE and not esp.attributes & gpt.LEGACY_BIOS_BOOTABLE
    listing = run(["mdir", "-i", f"{disk}@@{MIB}", "-b", "::/EFI/BOOT"], env=ENV).text.split()
    assert [Path(p).name for p in listing] == ["BOOTAA64.EFI"]
    uki = tmp_path / "BOOTAA64.EFI"
    run(["mcopy", "-i", f"{disk}@@{MIB}", "::/EFI/BOOT/BOOTAA64.EFI", uki], env=ENV)
    assert pe_machine(uki.read_bytes()) == 0xAA64


def test_cloud_disks_are_the_uefi_disk(arm64_built: dict[str, Path], tmp_path: Path) -> None:
    """aws, vhd and gcp for arm64 carry the UEFI-only disk (no syslinux half)."""
    efi = content_digest(arm64_built["raw-efi"])
    assert content_digest(arm64_built["aws"]) == efi
    assert content_digest(arm64_built["vhd"], 1 << 30) == efi
    run(["tar", "-xzf", arm64_built["gcp"], "-C", tmp_path])
    assert content_digest(tmp_path / "disk.raw") == efi
    back = tmp_path / "back.raw"
    run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", arm64_built["qcow2-efi"], back])
    assert content_digest(back) == efi


def test_iso_is_efi_only(arm64_built: dict[str, Path]) -> None:
    iso = arm64_built["iso-efi"]
    report = run(["xorriso", "-indev", iso, "-report_el_torito", "plain"])
    text = report.text + report.stderr.decode()
    assert "UEFI" in text and "BIOS" not in text
    files = run(["xorriso", "-indev", iso, "-find", "/", "-type", "f"]).text
    assert "isolinux" not in files and "/boot/efiboot.img" in files


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_bios_formats_are_refused_for_arm64(name: str) -> None:
    with pytest.raises(UsageError) as info:
        arches.check_formats("arm64", [table()[name]])
    how = "boots by BIOS" if name in ("raw-bios", "qcow2-bios") else "boots by BIOS and UEFI"
    assert info.value.message == f"format {name} {how}: arm64 machines boot by UEFI only"
    instead = REFUSED[name]
    assert info.value.hint == (f"use -f {instead}" if instead else
                               "arm64 disk formats: raw-efi, aws, gcp, vhd, qcow2-efi, iso-efi")


def test_uefi_and_plain_formats_pass_for_arm64_and_everything_for_amd64() -> None:
    formats = table()
    arches.check_formats("aarch64", [formats[n] for n in (*ARM64_DISKS, "kernel+initrd", "tar", "docker")])
    arches.check_formats("amd64", list(formats.values()))
    with pytest.raises(UsageError, match="unknown architecture 'riscv64'"):
        arches.check_formats("riscv64", [])


def test_build_refuses_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The refusal comes before the config is even read (this one does not exist)."""
    missing = tmp_path / "absent.yml"
    with pytest.raises(UsageError, match="format raw-bios boots by BIOS"):
        build(BuildOptions(files=(missing,), formats=("raw-efi", "raw-bios"), arch="arm64", outdir=tmp_path / "o"))
    assert not (tmp_path / "o").exists()
    code = main(["build", str(missing), "--arch", "arm64", "-f", "iso-bios", "--dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[0] == ("lkcloud: error: format iso-bios boots by BIOS and UEFI: "
                                   "arm64 machines boot by UEFI only")
