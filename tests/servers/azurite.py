"""Azurite's blob service as a subprocess on 127.0.0.1, and the connection string for it.

Azurite is found in ``.tools/node_modules/.bin`` (where scripts/bootstrap installs it) or on
PATH; :func:`azurite_executable` returns None when it is absent so tests can skip.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from lkcloud.process import spawn
from tests.support.net import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented; not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_executable() -> Path | None:
    if LOCAL.exists():
        return LOCAL
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


def connection_string(blob_url: str) -> str:
    """The connection string of the development account at ``blob_url`` (Azurite or a proxy to it)."""
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={blob_url.rstrip('/')}/{ACCOUNT};")


@contextlib.contextmanager
def azurite(location: Path) -> Iterator[str]:
    """Start Azurite's blob service with its data in ``location``; yield its base URL
    (``http://127.0.0.1:PORT``, the account is the first path segment)."""
    executable = azurite_executable()
    if executable is None:
        raise FileNotFoundError("azurite-blob is not installed (scripts/bootstrap installs it into .tools)")
    port = free_port()
    location.mkdir(parents=True, exist_ok=True)
    proc = spawn([executable, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", location,
                  "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
