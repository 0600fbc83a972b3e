"""A local fleet's whole life under QEMU (TCG): create 2, invoke, refresh, invoke, a refresh to a
broken image that must stop with the old fleet still serving, delete (no QEMU left, by PID)."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from lkcloud.fleet.defaults import defaults
from lkcloud.provider.types import FleetSpec, FleetStatus, Health
from lkcloud_qemu import state
from lkcloud_qemu.config import load
from lkcloud_qemu.provider import QemuProvider
from tests.support.workers import Images

pytestmark = [pytest.mark.slow, pytest.mark.boot, pytest.mark.xdist_group("qemu-workers")]

USER_DATA = b'{"functions": {"entries": {"echo": {"perm": "0755", "content": "cat\\n"}}}}'


def invoke(port: int | None, function: str, body: bytes) -> tuple[int, bytes]:
    assert port is not None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", f"/function/{function}", body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def qemu_pids(under: Path) -> set[int]:
    """Every live process whose command line names a path under ``under`` (our QEMUs)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if str(under).encode() in cmdline and b"qemu-system" in cmdline and state.alive(int(proc.name)):
                found.add(int(proc.name))
    return found


def serving(status: FleetStatus, version: str) -> None:
    assert status.state == "healthy", status
    assert [i.health for i in status.instances] == [Health.HEALTHY] * 2
    assert {i.version for i in status.instances} == {version}
    assert len({i.port for i in status.instances}) == 2
    for instance in status.instances:
        assert invoke(instance.port, "hello", b"fleet") == (200, f"{version}: hello, fleet\n".encode())
        assert invoke(instance.port, "nope", b"")[0] == 404
        # Delivered as user data: cidata CD -> pkg/metadata -> /run/config/functions/echo.
        assert invoke(instance.port, "echo", b"from user data") == (200, b"from user data")


def test_fleet_lifecycle(worker_images: Images, tmp_path: Path) -> None:
    images = worker_images
    provider = QemuProvider(load(state_root=tmp_path / "state", images=tmp_path / "images", accel="tcg"))
    seen: set[int] = set()
    try:
        created = provider.fleet_create(FleetSpec(name="life", image=images.v1, size=2, user_data=USER_DATA,
                                                  policy=defaults("qemu").update, health=defaults("qemu").health))
        serving(created, "v1")
        seen |= qemu_pids(tmp_path)
        assert len(seen) == 2

        refreshed = provider.fleet_refresh("life", images.v2)
        assert refreshed.succeeded, refreshed.message
        assert refreshed.status is not None
        serving(refreshed.status, "v2")
        assert {i.id for i in refreshed.status.instances}.isdisjoint({i.id for i in created.instances})
        seen |= qemu_pids(tmp_path)

        failed = provider.fleet_refresh("life", images.broken)
        assert not failed.succeeded
        assert "failed its health check" in failed.message and "still serves the old image" in failed.message
        after = provider.fleet_status("life")
        serving(after, "v2")
        assert after.image == refreshed.status.image
        assert [i.id for i in after.instances] == [i.id for i in refreshed.status.instances]
        seen |= qemu_pids(tmp_path)
    finally:
        provider.fleet_delete("life")
    assert not any(state.alive(pid) for pid in seen)
    assert qemu_pids(tmp_path) == set()
    assert not (tmp_path / "state" / "fleets" / "life").exists()
