"""``lkcloud run qemu IMAGE``: boot a kernel+initrd, disk image or ISO under local QEMU."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lkcloud.artifact import from_file
from lkcloud.cli.context import OPTIONS, emit, reporter, say
from lkcloud.cli.groups import Groups
from lkcloud.metadata import read_user_data
from lkcloud.providers import BootMode, ImageRecord
from lkcloud_qemu import config, launch, state, vm
from lkcloud_qemu.console import BootFailedError, Matched
from lkcloud_qemu.fleet_cli import register_fleet
from lkcloud_qemu.machine import parse_disk, parse_publish
from lkcloud_qemu.provider import QemuProvider


def _echo(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.flush()


def _show_tail(exc: BootFailedError) -> None:
    sys.stderr.write("lkcloud: last console lines:\n")
    for line in exc.console_tail:
        sys.stderr.write(f"  {line}\n")


def _where(started: launch.Started) -> str:
    ports = "".join(f", 127.0.0.1:{host} -> guest {guest}" for host, guest in started.ports)
    return f"VM {started.name} (pid {started.pid}) state in {started.state_dir}{ports}"


def _stop(target: str, root: Path) -> None:
    state_dir = Path(target) if "/" in target else root / target
    stopped = state.stop(state_dir)
    emit({"state_dir": str(state_dir), "stopped": stopped},
         f"stopped VM in {state_dir}" if stopped else f"no VM was running in {state_dir}")


def _watch(prepared: vm.Prepared, wait_for: str | None, timeout: float, detach: bool) -> None:
    echo = None if (detach or OPTIONS.quiet or OPTIONS.json) else _echo
    started, proc = launch.start(prepared)
    say(_where(started))
    matched: Matched | None = None
    try:
        if wait_for is not None:
            matched = launch.wait(started, proc, wait_for, timeout, echo)
    except BootFailedError as exc:
        _show_tail(exc)
        raise
    finally:
        if not detach:
            launch.kill(proc)
    result = {"name": started.name, "state_dir": str(started.state_dir), "pid": started.pid,
              "ports": [list(p) for p in started.ports], "matched": matched.line if matched else None,
              "running": detach}
    emit(result, f"matched: {matched.line.strip()}" if matched and echo is None else None)


def run_qemu(  # noqa: PLR0917 -- typer reads the flags from the signature
    image: str = typer.Argument(..., help="A disk image, an ISO, or the NAME prefix of NAME-kernel/-initrd.img."),
    name: str | None = typer.Option(None, "--name", help="VM name (default: from the image)."),
    state_dir: Path | None = typer.Option(None, "--state", help="State directory (default .lkcloud/qemu/NAME)."),
    mem: int | None = typer.Option(None, "--mem", help="Memory in MiB (default 1024)."),
    cpus: int | None = typer.Option(None, "--cpus", help="CPUs (default 1)."),
    accel: str | None = typer.Option(None, "--accel", help="auto (KVM if it can run a guest, else TCG), kvm, tcg."),
    boot: BootMode | None = typer.Option(None, "--boot", help="bios or uefi (default: guessed from the image)."),
    disk: list[str] = typer.Option([], "--disk", help="PATH[,size=4G][,format=qcow2]: an extra disk (repeatable)."),
    publish: list[str] = typer.Option([], "--publish", "-p", help="HOST:GUEST: forward 127.0.0.1:HOST (repeatable)."),
    data: str | None = typer.Option(None, "--data", help="User data (LinuxKit JSON) on a cidata CD."),
    data_file: Path | None = typer.Option(None, "--data-file", help="User data from a file."),
    cmdline: str = typer.Option("", "--cmdline", help="Appended to the kernel command line."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background."),
    wait_for: str | None = typer.Option(None, "--wait-for", help="Exit 0 once the console matches this regex."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds --wait-for waits (default 120)."),
    stop: bool = typer.Option(False, "--stop", help="Stop the detached VM named IMAGE (a name or state dir)."),
) -> None:
    """Boot IMAGE under QEMU: serial console on the terminal, or --detach, or --wait-for REGEX."""
    cfg = config.load(mem=mem, cpus=cpus, accel=accel, timeout=timeout)
    if stop:
        return _stop(image, cfg.state_root)
    options = vm.VmOptions(
        image=image, name=name, state_dir=state_dir, mem=cfg.mem, cpus=cfg.cpus, accel=cfg.accel, boot=boot,
        disks=tuple(parse_disk(d) for d in disk), forwards=tuple(parse_publish(p) for p in publish),
        user_data=read_user_data(data, data_file, "qemu"), cmdline=cmdline, ovmf=cfg.ovmf,
    )
    interactive = not detach and wait_for is None
    prepared = vm.prepare(options, cfg.state_root, console=not interactive)
    if not interactive:
        return _watch(prepared, wait_for, cfg.timeout, detach)
    say(f"VM {prepared.machine.name}: state in {prepared.state_dir}; quit with Ctrl-A X")
    code = launch.run_interactive(prepared)
    if code:
        raise typer.Exit(code)
    return None


def push_qemu(
    path: Path = typer.Argument(..., help="A disk image file."),
    name: str | None = typer.Option(None, "--name", help="Image name (default: the file's stem)."),
) -> None:
    """Copy a disk image into the local image directory (once per content digest)."""
    result = QemuProvider().push(from_file(path, name=name), reporter())
    emit(result, f"{'already stored' if result.reused else 'stored'}: {result.image_id}")


def _table(records: list[ImageRecord]) -> str:
    rows = [f"{r.created}  {'in use ' if r.in_use else '       '}{r.id}" for r in records]
    return "\n".join(rows) or "no images"


def images_list_qemu() -> None:
    """List the images in the local image directory, newest first."""
    records = QemuProvider().images_list()
    emit(records, _table(records))


def images_prune_qemu(
    keep: int = typer.Option(3, "--keep", help="How many of the newest images to keep."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be deleted."),
) -> None:
    """Delete all but the newest images; never one a running VM boots from."""
    removed = QemuProvider().images_prune(keep, reporter(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    emit(removed, "\n".join(f"{verb} {r.id}" for r in removed) or "nothing to delete")


def provider() -> QemuProvider:
    """The provider with its settings resolved (used for fleet files)."""
    return QemuProvider()


def register(groups: Groups) -> None:
    """Add ``qemu`` to ``lkcloud run``, ``push``, ``fleet VERB`` and ``images list|prune``."""
    groups.run.command("qemu")(run_qemu)
    groups.push.command("qemu")(push_qemu)
    groups.image_verbs["list"].command("qemu")(images_list_qemu)
    groups.image_verbs["prune"].command("qemu")(images_prune_qemu)
    register_fleet(groups)
