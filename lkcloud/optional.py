"""Modules that may be absent (an extra not installed), imported when present."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """The module ``name``, or None when it is not installed. A module that is present but fails
    to import (one of *its* imports missing, a syntax error) still raises."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
