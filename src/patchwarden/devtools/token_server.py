"""A small Bearer-token server whose JWTs CNCF distribution 2.8 accepts (``auth.token``).

The signing certificate is written as the registry's ``rootcertbundle``; tokens carry it in
the ``x5c`` header, which distribution verifies against that bundle.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from patchwarden.devtools.loopback import LoopbackServer

ALL_ACTIONS = frozenset({"pull", "push", "delete", "*"})


def make_signing_cert(
    common_name: str = "patchwarden-test-token",
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


class TokenServer(LoopbackServer):
    """Issues RS256 JWTs for ``user``/``password`` (and an optional identity token)."""

    def __init__(
        self,
        *,
        username: str = "tester",
        password: str = "s3cret-pass",
        service: str = "patchwarden-test-registry",
        issuer: str = "patchwarden-test-issuer",
        expires_in: int = 300,
        identity_token: str | None = None,
        anonymous_pull: bool = False,
    ) -> None:
        self.username, self.password = username, password
        self.service, self.issuer = service, issuer
        self.expires_in = expires_in
        self.identity_token = identity_token
        self.anonymous_pull = anonymous_pull
        self._key, self.cert = make_signing_cert()
        self._x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    def write_cert(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def token_requests(self) -> int:
        with self._lock:
            return self.counts["issued"] + self.counts["denied"]

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()

    # -- tokens --------------------------------------------------------------------------

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def issue(self, subject: str, scopes: list[str], authorized: bool) -> str:
        access: list[dict[str, Any]] = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if authorized:
                granted = [a for a in actions if a in ALL_ACTIONS]
            else:
                granted = ["pull"] if self.anonymous_pull and "pull" in actions else []
            access.append({"type": typ, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"x5c": [self._x5c]})

    def check_basic(self, header: str | None) -> bool | None:
        """True/False for good/bad Basic credentials, None when none were sent."""
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.username) and secrets.compare_digest(
            pw, self.password
        )


def _make_handler(ts: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, ok: bool | None, scopes: list[str], subject: str) -> None:
            import json

            if ok is False:
                ts._count("denied")
                self._reply(401, b'{"details":"invalid credentials"}')
                return
            ts._count("issued")
            token = ts.issue(subject if ok else "", scopes, bool(ok))
            body = {
                "token": token,
                "access_token": token,
                "expires_in": ts.expires_in,
                "issued_at": dt.datetime.now(dt.UTC).isoformat(),
            }
            self._reply(200, json.dumps(body).encode())

        def do_GET(self) -> None:
            q = parse_qs(urlsplit(self.path).query)
            ok = ts.check_basic(self.headers.get("Authorization"))
            self._answer(ok, q.get("scope", []), ts.username)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            grant = form.get("grant_type", [""])[0]
            ok: bool | None
            if grant == "refresh_token":
                tok = form.get("refresh_token", [""])[0]
                ok = ts.identity_token is not None and secrets.compare_digest(
                    tok, ts.identity_token
                )
            elif grant == "password":
                ok = (
                    form.get("username", [""])[0] == ts.username
                    and form.get("password", [""])[0] == ts.password
                )
            else:
                ok = False
            self._answer(ok, form.get("scope", []), ts.username)

    return Handler
