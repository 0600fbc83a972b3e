"""Every disk format: built once per module from the test kernel and initrd, checked against
what the tools read back (qemu-img, GNU tar, fsck.fat, sgdisk, xorriso), and booted under QEMU."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from lkcloud.disk import gnutar, gpt, mbr, vhd
from lkcloud.disk.bootloader import FILES, BootFile
from lkcloud.disk.ids import VHD_EPOCH
from lkcloud.errors import BuildError, ToolMissingError, UsageError
from lkcloud.formats import table
from lkcloud.platform import BootMode
from lkcloud.process import run
from lkcloud.progress import NULL
from lkcloud.reproducible import LINUXKIT_MTIME
from tests.formats.support import MakeInputs, content_digest, inputs_at
from tests.support.boot import boot_to
from tests.support.hello import ONBOOT_MARKER, SERVICE_MARKER, Hello

GIB = 1 << 30
MIB = 1 << 20
FORMATS = {name: fmt for name, fmt in table().items() if fmt.boot_mode is not None}  # the disk formats
EXPECTED_NAMES = {
    "raw-efi": "test-efi.img",
    "raw-bios": "test-bios.img",
    "raw": "test.img",
    "aws": "test.raw",
    "gcp": "test.img.tar.gz",
    "vhd": "test.vhd",
    "dynamic-vhd": "test-dynamic.vhd",
    "qcow2-bios": "test.qcow2",
    "qcow2-efi": "test-efi.qcow2",
    "vmdk": "test.vmdk",
    "iso-bios": "test.iso",
    "iso-efi": "test-efi.iso",
}
# (format, firmware, qemu media): every format boots, dual-boot ones both ways.
BOOTS = [
    ("raw-efi", "uefi", "raw"),
    ("raw-bios", "bios", "raw"),
    ("raw", "bios", "raw"),
    ("raw", "uefi", "raw"),
    ("aws", "bios", "raw"),  # byte-identical to raw (checked above); booted once
    ("gcp", "bios", "gcp"),  # disk.raw as GNU tar extracts it; byte-identical to raw
    ("vhd", "bios", "vpc"),
    ("vhd", "uefi", "vpc"),
    ("dynamic-vhd", "uefi", "vpc"),
    ("qcow2-bios", "bios", "qcow2"),
    ("qcow2-efi", "uefi", "qcow2"),
    ("vmdk", "bios", "vmdk"),
    ("iso-bios", "bios", "cdrom"),
    ("iso-efi", "uefi", "cdrom"),
]


def build_all(base: Path, kernel: Path, initrd: Path) -> dict[str, Path]:
    """Every disk format into its own output directory, sharing one work directory."""
    found = {}
    for name, fmt in FORMATS.items():
        inputs = inputs_at(base, kernel, initrd, outdir=base / name)
        (path,) = fmt.write(inputs, NULL)
        found[name] = path
    return found


@pytest.fixture(scope="module")
def built(kernel: Path, initrd: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("disks"), kernel, initrd)


@pytest.fixture(scope="module")
def gcp_disk(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """disk.raw as GNU tar extracts it from our archive."""
    out = tmp_path_factory.mktemp("gcp-extract")
    run(["tar", "-xzf", built["gcp"], "-C", out])
    return out / "disk.raw"


def qemu_img_info(path: Path, fmt: str) -> dict[str, object]:
    info: dict[str, object] = json.loads(run(["qemu-img", "info", "-f", fmt, "--output=json", path]).text)
    return info


def to_raw(path: Path, fmt: str, target: Path) -> str:
    run(["qemu-img", "convert", "-f", fmt, "-O", "raw", path, target])
    return content_digest(target)


def head(path: Path, offset: int = 0, length: int = 34 * 512) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def test_table_names_outputs_and_boot_modes(built: dict[str, Path]) -> None:
    assert set(FORMATS) == set(EXPECTED_NAMES)
    assert set(FORMATS) <= set(table())
    for name, fmt in FORMATS.items():
        assert fmt.outputs("test") == (EXPECTED_NAMES[name],)
        assert built[name].name == EXPECTED_NAMES[name]
        assert fmt.boot_mode is not None and fmt.needs_kernel and fmt.help
    assert FORMATS["raw-efi"].boot_mode is BootMode.UEFI
    assert FORMATS["raw-bios"].boot_mode is BootMode.BIOS
    assert {FORMATS[n].boot_mode for n in ("raw", "aws", "gcp", "vhd")} == {BootMode.HYBRID}


def test_outputs_are_sparse_and_leave_no_temporaries(built: dict[str, Path]) -> None:
    for name in ("raw-efi", "raw-bios", "raw", "aws", "vhd"):
        path = built[name]
        assert path.stat().st_size >= GIB
        assert path.stat().st_blocks * 512 < 64 * MIB, name
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_hybrid_gpt(built: dict[str, Path]) -> None:
    data = head(built["raw"])
    tail = head(built["raw"], GIB - 33 * 512)
    header = gpt.read_header(data[512:1024])
    backup = gpt.read_header(tail[-512:])
    assert backup.entries_lba * 512 == GIB - 33 * 512
    (esp,) = gpt.read_entries(data[1024 : 1024 + 16384], header)
    (esp_backup,) = gpt.read_entries(tail[:16384], backup)
    assert esp == esp_backup
    assert (esp.type_guid, esp.name, esp.first_lba) == (gpt.ESP_TYPE, "ESP", 2048)
    assert esp.attributes & gpt.LEGACY_BIOS_BOOTABLE
    assert data[:440] == FILES["gptmbr.bin"].path.read_bytes()[:440]
    assert mbr.read_entries(data[:512]) == [mbr.Entry(0, 0xEE, 1, GIB // 512 - 1)]
    assert "No problems found" in run(["sgdisk", "-v", built["raw"]]).text


def test_efi_gpt_has_no_bios_boot(built: dict[str, Path]) -> None:
    data = head(built["raw-efi"])
    (esp,) = gpt.read_entries(data[1024:], gpt.read_header(data[512:1024]))
    assert esp.attributes == 0
    assert data[:440] == bytes(440)


def test_bios_mbr(built: dict[str, Path]) -> None:
    data = head(built["raw-bios"])
    (entry,) = mbr.read_entries(data)
    assert (entry.status, entry.type_id, entry.first_lba) == (mbr.ACTIVE, mbr.FAT32_LBA, 2048)
    assert data[:440] == FILES["mbr.bin"].path.read_bytes()[:440]


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("raw-efi", {"EFI"}),
        ("raw-bios", {"vmlinuz", "initrd.img", "syslinux.cfg", "ldlinux.sys", "ldlinux.c32"}),
        ("raw", {"EFI", "vmlinuz", "initrd.img", "syslinux.cfg", "ldlinux.sys", "ldlinux.c32"}),
    ],
)
def test_boot_partition_is_clean_fat32(built: dict[str, Path], tmp_path: Path, name: str, files: set[str]) -> None:
    disk = built[name]
    env = {"MTOOLS_SKIP_CHECK": "1"}
    listing = run(["mdir", "-i", f"{disk}@@{MIB}", "-a", "-b", "::/"], env=env).text.split()
    assert {Path(p).name for p in listing} == files
    dates = run(["mdir", "-i", f"{disk}@@{MIB}", "-a", "::/"], env={**env, "TZ": "UTC"}).text
    stamp = datetime.datetime.fromtimestamp(LINUXKIT_MTIME, datetime.UTC).strftime("%Y-%m-%d  %H:%M")
    assert dates.count(stamp) == len(files)  # SOURCE_DATE_EPOCH, not the build time
    if "EFI" in files:
        uki = tmp_path / "BOOTX64.EFI"
        run(["mcopy", "-i", f"{disk}@@{MIB}", "::/EFI/BOOT/BOOTX64.EFI", uki], env=env)
        assert uki.read_bytes()[:2] == b"MZ"
    data = head(disk, 0, MIB + 512)
    sizes = [e.sectors * 512 for e in mbr.read_entries(data[:512]) if e.type_id != 0xEE]
    size = sizes[0] if sizes else 0
    if not sizes:
        header = gpt.read_header(data[512:1024])
        (esp,) = gpt.read_entries(data[1024 : 1024 + 16384], header)
        size = (esp.last_lba - esp.first_lba + 1) * 512
    part = tmp_path / "part.img"
    part.write_bytes(head(disk, MIB, size))
    run(["fsck.fat", "-n", part])  # exits non-zero on any inconsistency
    assert data[MIB + 82 : MIB + 90] == b"FAT32   "


def test_fixed_vhd(built: dict[str, Path]) -> None:
    path = built["vhd"]
    assert path.stat().st_size == GIB + 512
    with path.open("rb") as fh:
        fh.seek(GIB)
        footer = vhd.parse(fh.read(512))
    assert (footer.size, footer.disk_type, footer.creator_app) == (GIB, vhd.DiskType.FIXED, b"win ")
    assert footer.timestamp == LINUXKIT_MTIME - VHD_EPOCH
    assert (footer.cylinders, footer.heads, footer.sectors) == vhd.geometry(GIB)
    assert qemu_img_info(path, "vpc")["virtual-size"] == GIB
    assert content_digest(path, GIB) == content_digest(built["raw"])  # the payload is the dual-boot disk


def test_aws_is_the_dual_boot_disk(built: dict[str, Path]) -> None:
    assert content_digest(built["aws"]) == content_digest(built["raw"])


@pytest.mark.parametrize(
    ("name", "fmt", "source"),
    [("qcow2-bios", "qcow2", "raw-bios"), ("qcow2-efi", "qcow2", "raw-efi"), ("vmdk", "vmdk", "raw"),
     ("dynamic-vhd", "vpc", "raw")],
)  # fmt: skip
def test_qemu_img_reads_back_the_disk(built: dict[str, Path], tmp_path: Path, name: str, fmt: str, source: str) -> None:
    info = qemu_img_info(built[name], fmt)
    assert info["virtual-size"] == GIB
    if fmt != "vpc":
        run(["qemu-img", "check", "-f", fmt, built[name]])
    assert to_raw(built[name], fmt, tmp_path / "back.raw") == content_digest(built[source])


def test_vmdk_descriptor(built: dict[str, Path]) -> None:
    text = head(built["vmdk"], 0, 4096)
    assert b'createType="streamOptimized"' in text
    assert b'ddb.adapterType = "lsilogic"' in text
    assert b'SPARSE "test.vmdk"' in text


def test_dynamic_vhd_footers(built: dict[str, Path]) -> None:
    path = built["dynamic-vhd"]
    first, last = vhd.parse(head(path)[:512]), vhd.parse(head(path, path.stat().st_size - 512, 512))
    assert first == last
    assert first.disk_type is vhd.DiskType.DYNAMIC
    assert first.timestamp == LINUXKIT_MTIME - VHD_EPOCH


def test_gcp_archive(built: dict[str, Path], gcp_disk: Path) -> None:
    data = head(built["gcp"], 0, 10)
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip, mtime 0
    listing = run(["tar", "-tvzf", built["gcp"]]).text.splitlines()
    assert len(listing) == 1 and listing[0].endswith(" disk.raw") and f" {GIB} " in listing[0]
    assert gcp_disk.stat().st_size % GIB == 0
    assert content_digest(gcp_disk) == content_digest(built["raw"])


def test_gcp_tar_headers(built: dict[str, Path], tmp_path: Path) -> None:
    raw_tar = tmp_path / "disk.tar"
    with gzip.open(built["gcp"]) as src, raw_tar.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    block = head(raw_tar, 0, 512)
    assert block[:9] == b"disk.raw\0" and block[156:157] == b"S" and block[257:265] == gnutar.MAGIC
    assert int(block[483:495].rstrip(b"\0"), 8) == GIB
    assert int(block[148:154], 8) == sum(block[:148]) + 256 + sum(block[156:])
    assert raw_tar.stat().st_size % gnutar.RECORD == 0


def test_iso_boot_catalog(built: dict[str, Path]) -> None:
    assert content_digest(built["iso-bios"]) == content_digest(built["iso-efi"])  # one hybrid ISO serves both
    report = run(["xorriso", "-indev", built["iso-bios"], "-report_el_torito", "plain"], check=True)
    text = report.text + report.stderr.decode()
    assert "BIOS" in text and "UEFI" in text
    mbr_entries = mbr.read_entries(head(built["iso-bios"])[:512])
    assert mbr_entries  # isohybrid: bootable as a disk too


@pytest.mark.slow
def test_reproducible(built: dict[str, Path], kernel: Path, initrd: Path, tmp_path: Path) -> None:
    again = build_all(tmp_path, kernel, initrd)
    for name, path in built.items():
        assert content_digest(again[name]) == content_digest(path), name


def test_digests_from_the_build_give_the_same_disk(built: dict[str, Path], kernel: Path, initrd: Path,
                                                  tmp_path: Path) -> None:
    """`lkcloud build` hands over the digests it took while writing; the disk is the same as when
    the writer hashes the files itself."""
    known = {"kernel_digest": hashlib.sha256(kernel.read_bytes()).hexdigest(),
             "initrd_digest": hashlib.sha256(initrd.read_bytes()).hexdigest()}
    for name in ("raw", "raw-bios"):
        (disk,) = FORMATS[name].write(inputs_at(tmp_path, kernel, initrd, outdir=tmp_path / name, **known), NULL)
        assert content_digest(disk) == content_digest(built[name]), name


@pytest.fixture(scope="module")
def hello_disks(hello: Hello, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every disk format of examples/hello.yml, and the gcp archive's disk.raw as GNU tar unpacks it."""
    base = tmp_path_factory.mktemp("hello-disks")
    inputs = inputs_at(base, kernel=hello.kernel, initrd=hello.initrd, cmdline=hello.cmdline)
    disks = {name: fmt.write(inputs, NULL)[0] for name, fmt in FORMATS.items()}
    run(["tar", "-xzf", disks["gcp"], "-C", base])
    disks["gcp-disk"] = base / "disk.raw"
    return disks


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.parametrize(("name", "firmware", "media"), BOOTS, ids=[f"{n}-{f}" for n, f, _ in BOOTS])
def test_boots_hello(hello_disks: dict[str, Path], tmp_path: Path, name: str, firmware: str, media: str) -> None:
    """Each format boots examples/hello.yml to its service's marker (runc inside the VM)."""
    image = hello_disks["gcp-disk" if media == "gcp" else name]
    text = boot_to(image, SERVICE_MARKER, tmp_path, boot=BootMode(firmware))
    assert ONBOOT_MARKER in text


@pytest.mark.parametrize("name", ["raw-efi", "raw-bios", "raw", "aws", "vhd", "qcow2-efi", "vmdk"])
def test_size_too_small_is_refused_without_output(make_inputs: MakeInputs, name: str) -> None:
    inputs = make_inputs(size=16 * MIB)
    with pytest.raises(UsageError, match="too small") as caught:
        FORMATS[name].write(inputs, NULL)
    assert caught.value.hint is not None and "--size" in caught.value.hint
    assert not inputs.outdir.exists() or not list(inputs.outdir.iterdir())


def test_size_must_be_positive(make_inputs: MakeInputs) -> None:
    with pytest.raises(UsageError, match="positive"):
        FORMATS["raw"].write(make_inputs(size=0), NULL)


@pytest.mark.parametrize(
    ("name", "key", "package"),
    [
        ("raw-efi", "uki-stub", "systemd-boot-efi"),
        ("raw-bios", "mbr.bin", "syslinux"),
        ("raw", "gptmbr.bin", "syslinux"),
        ("gcp", "gptmbr.bin", "syslinux"),
        ("iso-bios", "ldlinux.c32", "syslinux-common"),
        ("iso-bios", "isolinux.bin", "isolinux"),
        ("iso-efi", "isohdpfx.bin", "isolinux"),
    ],
)
def test_missing_boot_loader_file_names_the_package(
    make_inputs: MakeInputs, monkeypatch: pytest.MonkeyPatch, name: str, key: str, package: str
) -> None:
    monkeypatch.setitem(FILES, key, BootFile(Path("/nonexistent/lkcloud-test") / key, package))
    inputs = make_inputs()
    with pytest.raises(BuildError, match="is missing") as caught:
        FORMATS[name].write(inputs, NULL)
    assert caught.value.hint == f"install it with: apt-get install {package}"
    assert not inputs.outdir.exists() or not list(inputs.outdir.iterdir())


def test_missing_tool_gives_an_install_hint(
    make_inputs: MakeInputs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    inputs = make_inputs()
    with pytest.raises(ToolMissingError) as caught:
        FORMATS["iso-efi"].write(inputs, NULL)
    assert caught.value.hint == "install it with: apt-get install mtools"
    assert not list(inputs.outdir.iterdir())


def test_missing_kernel(make_inputs: MakeInputs) -> None:
    with pytest.raises(BuildError, match="needs a kernel"):
        FORMATS["raw"].write(make_inputs(kernel=None), NULL)
