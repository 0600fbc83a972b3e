"""Fleet health checks: ``GET /healthz`` on a VM's forwarded port, as a cloud load balancer would.

A worker answers ``200`` with ``ok VERSION``; anything else, or no answer, is not healthy. A VM
whose QEMU is gone is unhealthy at once; one still running but not answering yet is starting.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from dataclasses import dataclass

from lkcloud.errors import TimeoutExceededError
from lkcloud.provider.calls import wait_local
from lkcloud.provider.types import Health, HealthCheck
from lkcloud_qemu.machine import LOOPBACK


@dataclass(frozen=True)
class Probe:
    health: Health
    version: str | None = None
    detail: str = ""


def probe(port: int | None, check: HealthCheck, running: bool = True) -> Probe:
    """One health check of the VM forwarding 127.0.0.1:``port`` to the guest."""
    if not running:
        return Probe(Health.UNHEALTHY, detail="the VM is not running")
    if port is None:
        return Probe(Health.UNKNOWN, detail="the VM forwards no port")
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=check.timeout_seconds)
    try:
        conn.request("GET", check.path)
        response = conn.getresponse()
        body = response.read(4096).decode(errors="replace").strip()
    except (OSError, http.client.HTTPException) as exc:
        return Probe(Health.STARTING, detail=f"no answer on port {port}: {exc or type(exc).__name__}")
    finally:
        conn.close()
    word, _, version = body.partition(" ")
    if response.status == 200 and word == "ok":
        return Probe(Health.HEALTHY, version=version.strip() or None)
    return Probe(Health.UNHEALTHY, detail=f"{check.path} answered {response.status}: {body[:200]}")


def wait_healthy(port: int | None, check: HealthCheck, running: Callable[[], bool]) -> Probe:
    """Check until healthy, the VM stops, or ``check.grace_seconds`` seconds pass; returns the last probe."""
    seen: list[Probe] = []

    def attempt() -> Probe:
        seen.append(probe(port, check, running()))
        return seen[-1]

    try:
        return wait_local(f"port {port} to answer {check.path}", attempt,
                          lambda found: found.health is not Health.STARTING, timeout=check.grace_seconds,
                          poll_min=0.25, poll_max=max(0.25, check.interval_seconds))
    except TimeoutExceededError:
        detail = seen[-1].detail if seen else "no probe"
        return Probe(Health.UNHEALTHY, detail=f"not healthy within {check.grace_seconds:g} s ({detail})")
