"""A small Docker token server: ES256 JWTs that ``docker-registry``'s token auth accepts.

``GET /token?service=S&scope=repository:NAME:pull,push&scope=...`` (scope repeated) with
optional Basic auth. Anonymous callers get ``pull``; known users get what they ask for; wrong
passwords get 401. It records every request's scopes in ``requests`` for assertions.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.support import certs


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _key_and_cert() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return certs.self_signed("lkcloud test token signer")


class TokenServer:
    """Issues registry tokens on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, *, users: dict[str, str], service: str, issuer: str) -> None:
        self.users = users
        self.service = service
        self.issuer = issuer
        self.key, self.cert = _key_and_cert()
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.requests: list[tuple[str | None, list[str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def __enter__(self) -> TokenServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sign(self, subject: str, access: list[dict[str, Any]]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert.public_bytes(
            serialization.Encoding.DER)).decode()]}
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(8), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _user(self, header: str | None) -> tuple[bool, str | None]:
        """(ok, user): no header is anonymous; a wrong password is not ok."""
        if not header or not header.startswith("Basic "):
            return True, None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return self.users.get(user) == password, user

    def grant(self, user: str | None, scopes: list[str]) -> list[dict[str, Any]]:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            allowed = wanted if user else [a for a in wanted if a == "pull"]
            access.append({"type": kind, "name": name, "actions": allowed})
        return access

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                ok, user = server._user(self.headers.get("Authorization"))
                server.requests.append((user, query.get("scope", [])))
                if not ok or query.get("service", [""])[0] != server.service:
                    self.send_response(401)
                    self.end_headers()
                    return
                token = server.sign(user or "", server.grant(user, query.get("scope", [])))
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
