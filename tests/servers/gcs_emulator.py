"""gcp-storage-emulator as a subprocess on 127.0.0.1, and a storage client for it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lkcloud.process import spawn
from tests.support.net import free_port, stop, wait_for_port

EXECUTABLE = Path(sys.executable).parent / "gcp-storage-emulator"


@contextlib.contextmanager
def gcs_emulator() -> Iterator[str]:
    """Start the emulator in memory on a free port; yield its base URL."""
    port = free_port()
    proc = spawn([EXECUTABLE, "start", "-H", "127.0.0.1", "--port", str(port), "--in-memory"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def storage_client(url: str, project: str = "test-project") -> Any:
    """A real google-cloud-storage client talking to the emulator anonymously."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project=project, credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": url})
