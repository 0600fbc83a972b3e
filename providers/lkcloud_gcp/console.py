"""``run gcp --console``: an instance's serial port output, read as it boots.

Right after insert an instance has written little; the output is polled from where the last
read ended (``start``/``next``) until the marker shows or the timeout passes. Reading the output
needs no ``serial-port-enable`` (that opens the interactive console).
https://cloud.google.com/compute/docs/instances/viewing-serial-port-output
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from google.cloud import compute_v1

from lkcloud.errors import TimeoutExceededError, UsageError
from lkcloud.progress import NULL, Reporter
from lkcloud_gcp.calls import call
from lkcloud_gcp.clients import Api

DEFAULT_MARKER = "Welcome to LinuxKit"  # the banner LinuxKit's init prints once it is up


@dataclass(frozen=True)
class ConsoleOptions:
    """What ``--console`` waits for (a regular expression), and for how long (seconds)."""

    marker: str = DEFAULT_MARKER
    timeout: float = 120.0

    def pattern(self) -> re.Pattern[str]:
        try:
            return re.compile(self.marker)
        except re.error as exc:
            raise UsageError(f"--wait-for {self.marker!r}: not a regular expression: {exc}") from None


class _Reader:
    """The output read so far, and where the next read starts."""

    def __init__(self, api: Api, zone: str, name: str) -> None:
        self.api, self.zone, self.name = api, zone, name
        self.parts: list[str] = []
        self.offset = 0

    def read(self) -> str:
        request = compute_v1.GetSerialPortOutputInstanceRequest(project=self.api.project, zone=self.zone,
                                                                instance=self.name, port=1, start=self.offset)
        output = call(self.api, f"serial output of {self.name}", self.api.clients.instances.get_serial_port_output,
                      request=request)
        if int(output.start) > self.offset:  # the instance's buffer dropped what we had not read
            self.parts.append(f"[... {int(output.start) - self.offset} bytes lost ...]\n")
        self.parts.append(str(output.contents))
        self.offset = int(output.next_)
        return "".join(self.parts)


def read_console(api: Api, zone: str, name: str, options: ConsoleOptions, reporter: Reporter = NULL) -> str:
    """The serial output of ``name`` up to the marker, or all there is once the timeout passed."""
    marker, reader = options.pattern(), _Reader(api, zone, name)
    reporter.step(f"reading the console of {name} until {options.marker!r}")
    try:
        api.calls.wait(f"{options.marker!r} on the console of {name}", reader.read,
                       lambda text: marker.search(text) is not None, timeout=options.timeout)
    except TimeoutExceededError:
        reporter.step(f"{name}: no {options.marker!r} on the console after {options.timeout:g} s")
    return "".join(reader.parts)
