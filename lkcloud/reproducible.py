"""The one clock of reproducible builds: LinuxKit's fixed time, or ``SOURCE_DATE_EPOCH``."""

from __future__ import annotations

import os

# LinuxKit's fixed mtime for generated entries: 2017-04-18 16:30:00 UTC.
LINUXKIT_MTIME = 1492533000


def source_date_epoch() -> int:
    """``SOURCE_DATE_EPOCH`` when set to a number, else LinuxKit's fixed time."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    return int(value) if value.isdigit() else LINUXKIT_MTIME
