"""The log: lkcloud's own debug lines under ``--debug``, never a third party's, never a signed URL.

``--debug`` turns on DEBUG for lkcloud's loggers (``lkcloud.*`` and the providers'
``lkcloud_*``) only: libraries stay at INFO, because urllib3 and the cloud SDKs log every URL
they request, and those carry what grants access (a GCS resumable upload's ``upload_id``, S3
and Azure signatures, SAS tokens). As a second guard every line is redacted: the query string of
any URL is replaced by ``?<redacted>``.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

OWN = ("lkcloud", "lkcloud_")
FORMAT = "%(levelname)s %(name)s: %(message)s"
_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#\"'<>]*)\?[^\s#\"'<>]*", re.IGNORECASE)

_handler: logging.Handler | None = None


def redact(text: str) -> str:
    """``text`` with the query string of every URL in it replaced."""
    return _QUERY.sub(r"\1?<redacted>", text)


class _OwnDebugOnly(logging.Filter):
    """DEBUG records pass only from lkcloud's own loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO or record.name.startswith(OWN)


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup(debug: bool, stream: TextIO | None = None) -> None:
    """Log to ``stream`` (stderr): WARNING and up, or with ``debug`` lkcloud's DEBUG lines and
    everyone's INFO; redacted either way. Calling it again replaces the previous set-up."""
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = logging.StreamHandler(stream or sys.stderr)
    _handler.setFormatter(_Redacting(FORMAT))
    _handler.addFilter(_OwnDebugOnly())
    root.addHandler(_handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    for name in ("urllib3", "botocore", "boto3", "s3transfer", "google", "azure", "requests", "filelock"):
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.NOTSET)
