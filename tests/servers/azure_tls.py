"""A self-signed certificate for 127.0.0.1 (SAN IP:127.0.0.1), made with ``cryptography``, so
local https fakes can be trusted through REQUESTS_CA_BUNDLE."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.support import certs


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed(directory: Path) -> TlsFiles:
    """Write ``cert.pem`` and ``key.pem`` into ``directory``: a CA-flagged certificate for 127.0.0.1."""
    key, cert = certs.self_signed("lkcloud test 127.0.0.1", ip="127.0.0.1")
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return files
