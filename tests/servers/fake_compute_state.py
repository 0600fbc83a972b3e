"""What the fake Compute API's parts share: its error, JSON type and small helpers."""

from __future__ import annotations

import datetime
import math
from typing import Any

Json = dict[str, Any]
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class ApiError(Exception):
    """An error answer in Google's JSON error shape."""

    def __init__(self, code: int, message: str, reason: str = "invalid", domain: str = "global") -> None:
        super().__init__(message)
        self.code, self.message, self.reason, self.domain = code, message, reason, domain

    def payload(self) -> Json:
        return {"error": {"code": self.code, "message": self.message,
                          "errors": [{"reason": self.reason, "domain": self.domain, "message": self.message}]}}


def last(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, f"The resource '{kind}/{name}' was not found", "notFound")


def in_use(kind: str, name: str, user: str) -> ApiError:
    return ApiError(400, f"The {kind} resource '{name}' is already being used by '{user}'",
                    "resourceInUseByAnotherResource")


def version_size(size: Json, group_size: int) -> int:
    """A version's instance count: a fixed number (at most the group's), or a percent of the
    group rounded up (InstanceGroupManagerVersion.targetSize in the Compute API reference)."""
    if "fixed" in size:
        return min(int(size["fixed"]), group_size)
    return min(group_size, math.ceil(int(size.get("percent", 0)) * group_size / 100))
