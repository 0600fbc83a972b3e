"""Per-directory state: what was last built and pushed from here, so that
``lkcloud run gcp`` with no arguments knows which image to run."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATE_DIR = ".lkcloud"
STATE_FILE = "state.json"


def _path(cwd: Path | None) -> Path:
    return (cwd or Path.cwd()) / STATE_DIR / STATE_FILE


def load(cwd: Path | None = None) -> dict[str, Any]:
    """The recorded state (an empty mapping when nothing was recorded)."""
    try:
        data = json.loads(_path(cwd).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def record(section: str, value: dict[str, Any], cwd: Path | None = None) -> None:
    """Record ``value`` under ``section`` (e.g. ``push.aws``), atomically."""
    path = _path(cwd)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = load(cwd)
    data[section] = value
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def last(section: str, cwd: Path | None = None) -> dict[str, Any] | None:
    """What was last recorded under ``section``, if anything."""
    value = load(cwd).get(section)
    return value if isinstance(value, dict) else None
