"""The LinuxKit user-data contract: JSON that the metadata package turns into /run/config.

Size limits per provider channel, and reading ``--data`` / ``--data-file``.
"""

from __future__ import annotations

from pathlib import Path

from lkcloud.errors import UsageError

# Bytes each provider's user-data channel accepts.
LIMITS: dict[str, int] = {
    "aws": 16 * 1024,
    "gcp": 256 * 1024,
    "azure": 64 * 1024,
    "qemu": 16 * 1024 * 1024,
}


def read_user_data(data: str | None, data_file: Path | None, provider: str) -> bytes | None:
    """The user data from ``--data`` or ``--data-file`` (not both), checked against the
    provider's size limit."""
    if data is not None and data_file is not None:
        raise UsageError("give --data or --data-file, not both")
    if data_file is not None:
        try:
            raw = data_file.read_bytes()
        except OSError as exc:
            raise UsageError(f"{data_file}: cannot read user data: {exc.strerror}") from exc
    elif data is not None:
        raw = data.encode()
    else:
        return None
    check_size(raw, provider)
    return raw


def check_size(raw: bytes, provider: str) -> None:
    limit = LIMITS.get(provider)
    if limit is not None and len(raw) > limit:
        raise UsageError(
            f"user data is {len(raw)} bytes; {provider} accepts at most {limit}",
            hint="put large files on a volume or in a package, and pass only settings as user data",
        )
