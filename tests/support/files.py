"""Test inputs shared across areas: sparse files with data at chosen places, and a reporter that
keeps the steps it is told."""

from __future__ import annotations

from pathlib import Path

from lkcloud.progress import NULL, Task


def sparse_file(path: Path, size: int, pieces: dict[int, bytes]) -> Path:
    """A sparse file of ``size`` bytes with each of ``pieces`` written at its byte offset."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(size)
        for offset, data in pieces.items():
            fh.seek(offset)
            fh.write(data)
    return path


class Steps:
    """A reporter that keeps its status lines (progress tasks report nothing)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, message: str) -> None:
        self.lines.append(message)

    def task(self, description: str, total: int | None = None, unit: str = "B") -> Task:
        return NULL.task(description, total, unit)
