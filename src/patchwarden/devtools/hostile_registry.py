"""A registry that lies and stalls on purpose, for the hostile-input tests.

Nothing real can play these parts (a real registry is honest), so this small server does, on
loopback, one behaviour per instance:

- ``echo``: every ``/v2/`` request with credentials fails with a 500 whose body repeats the
  ``Authorization`` header, raw and decoded (``user:password``), as some registries' debug
  pages do;
- ``drip-headers`` / ``drip-body``: the answer to manifest and tag requests comes one byte every
  ``drip`` seconds (the status line and headers, or the body after honest headers);
- ``huge-tags``: a tag list far over the client's byte cap, sent quickly;
- ``huge-manifest``: a manifest claiming, and sending, more than the client's cap.
"""

from __future__ import annotations

import base64
import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from patchwarden.devtools.loopback import LoopbackServer

MODES = ("echo", "drip-headers", "drip-body", "huge-tags", "huge-manifest")


class HostileRegistry(LoopbackServer):
    def __init__(self, mode: str, *, drip: float = 0.2, max_seconds: float = 30.0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.mode = mode
        self.drip = drip
        self.max_seconds = max_seconds  # a dripping answer gives up after this long
        self.requests: list[tuple[str, str]] = []

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)


def _handler(reg: HostileRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _raw(self, data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()

        def _drip(self, data: bytes) -> None:
            end = time.monotonic() + reg.max_seconds
            for i in range(len(data)):
                if time.monotonic() > end:
                    break
                self._raw(data[i : i + 1])
                time.sleep(reg.drip)
            self.close_connection = True

        def _json(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            self.end_headers()
            self._raw(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            reg.requests.append((self.command, self.path))
            if self.path.rstrip("/") == "/v2":
                if reg.mode == "echo" and not self.headers.get("Authorization"):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="hostile"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._json(200, b"{}")
                return
            if reg.mode == "echo":
                auth = self.headers.get("Authorization", "")
                if not auth:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="hostile"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                _, _, value = auth.partition(" ")
                try:
                    decoded = base64.b64decode(value).decode()
                except Exception:
                    decoded = value
                body = json.dumps(
                    {
                        "errors": [
                            {
                                "code": "UNKNOWN",
                                "message": f"debug: got {auth} = {decoded}",
                                "detail": {"user": decoded.partition(":")[0], "raw": decoded},
                            }
                        ]
                    }
                ).encode()
                self._json(500, body)
                return
            if reg.mode == "huge-tags" and "/tags/list" in self.path:
                tags = [f"1.0.{i}-{'x' * 40}" for i in range(600_000)]
                self._json(200, json.dumps({"name": "x", "tags": tags}).encode())
                return
            if reg.mode == "huge-manifest" and "/manifests/" in self.path:
                body = b'{"schemaVersion":2,"layers":[' + b'{"a":1},' * 1_000_000 + b"{}]}"
                self._json(200, body, "application/vnd.oci.image.manifest.v1+json")
                return
            body = json.dumps({"name": "x", "tags": ["1.0.0", "1.0.1"]}).encode()
            if reg.mode == "drip-headers":
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n" + "X-Pad: " + "p" * 400 + "\r\n\r\n"
                ).encode()
                self._drip(head + body)
                return
            if reg.mode == "drip-body":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) + 400))
                self.end_headers()
                self.wfile.flush()
                self._drip(body + b" " * 400)
                return
            self._json(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}')

    return Handler


class BlackHole:
    """A TCP port on loopback that accepts connections and never answers nor closes them
    (a registry behind a broken load balancer). ``connections`` counts what was accepted."""

    def __init__(self) -> None:
        import socket

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._held: list[Any] = []
        self._stop = False
        self.connections = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)  # kept open, never read from nor written to

    def __enter__(self) -> BlackHole:
        import threading

        self._sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._sock.close()
        for conn in self._held:
            conn.close()
