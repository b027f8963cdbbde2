"""A reverse proxy in front of a real registry that misbehaves on purpose, for tests/benchmarks.

- paginates ``/v2/<repo>/tags/list`` itself (distribution 2.8 ignores ``n``), with ``Link``;
- answers ``429 Too Many Requests`` + ``Retry-After`` to the first K requests matching a pattern;
- corrupts manifest bodies matching a pattern (to test digest verification);
- can drop ``Docker-Content-Digest`` (registries that do not send it);
- counts requests by method and kind (tags, manifests, blobs, ping, other).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from patchwarden.devtools.loopback import LoopbackServer

_TAGS_RE = re.compile(r"^/v2/(?P<repo>.+)/tags/list$")
_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}
)


def request_kind(path: str) -> str:
    p = urlsplit(path).path
    if p.rstrip("/") == "/v2":
        return "ping"
    for kind in ("tags", "manifests", "blobs"):
        if f"/{kind}/" in p:
            return kind
    return "other"


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    remaining: int
    method: str | None = None


class RegistryProxy(LoopbackServer):
    """Forward to ``upstream`` (``127.0.0.1:PORT``), misbehaving as configured."""

    def __init__(self, upstream: str, *, tags_page_size: int | None = None) -> None:
        self.upstream = upstream
        self.tags_page_size = tags_page_size
        self.counts: Counter[str] = Counter()
        self.strip_digest_header = False
        self.retry_after = "1"
        self._throttle: list[_Rule] = []
        self._corrupt: list[_Rule] = []
        self._lock = threading.Lock()
        self.delay = 0.0  # seconds before forwarding each request (a slow registry)
        self.window_limit: tuple[int, float] | None = None  # N requests per window, then 429
        self.times: list[float] = []  # monotonic arrival time of every request
        self.rejected = 0  # 429s answered by window_limit

    # -- configuration -------------------------------------------------------------------

    def throttle(
        self, pattern: str, count: int, *, method: str | None = None, retry_after: str = "1"
    ) -> None:
        """Answer 429 (Retry-After: ``retry_after``) to the next ``count`` matching requests."""
        self.retry_after = retry_after
        with self._lock:
            self._throttle.append(_Rule(re.compile(pattern), count, method))

    def corrupt(self, pattern: str, count: int = 1_000_000) -> None:
        """Alter the body of matching GET answers (headers, digest included, unchanged)."""
        with self._lock:
            self._corrupt.append(_Rule(re.compile(pattern), count, "GET"))

    def limit_window(self, requests: int, window: float, retry_after: str = "1") -> None:
        """Answer 429 to requests past ``requests`` within any ``window`` seconds (a sliding
        window, like a registry's per-client limit)."""
        self.retry_after = retry_after
        self.window_limit = (requests, window)

    def _over_window(self, now: float) -> bool:
        if self.window_limit is None:
            return False
        n, window = self.window_limit
        recent = [t for t in self.times if now - t < window]
        if len(recent) > n:  # this request (already recorded) is past the limit
            self.rejected += 1
            return True
        return False

    def reset(self) -> None:
        with self._lock:
            self._throttle.clear()
            self._corrupt.clear()
            self.counts.clear()
            self.strip_digest_header = False

    def _match(self, rules: list[_Rule], method: str, path: str) -> bool:
        with self._lock:
            for r in rules:
                if r.remaining > 0 and (r.method in (None, method)) and r.pattern.search(path):
                    r.remaining -= 1
                    return True
        return False

    def count(self, method: str, kind: str) -> int:
        with self._lock:
            return self.counts[f"{method} {kind}"]

    # -- lifecycle -----------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    # -- forwarding ----------------------------------------------------------------------

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, list(resp.getheaders()), data
        finally:
            conn.close()

    def paginate(
        self, path: str, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        parts = urlsplit(path)
        m = _TAGS_RE.match(parts.path)
        if self.tags_page_size is None or m is None:
            return None
        status, hdrs, data = self.forward("GET", parts.path, headers, None)
        if status != 200:
            return status, hdrs, data
        doc: dict[str, Any] = json.loads(data)
        tags = sorted(doc.get("tags") or [])
        q = parse_qs(parts.query)
        n = min(
            int(q.get("n", [self.tags_page_size])[0] or self.tags_page_size), self.tags_page_size
        )
        last = q.get("last", [None])[0]
        if last is not None:
            tags = [t for t in tags if t > last]
        page, more = tags[:n], len(tags) > n
        out = [(k, v) for k, v in hdrs if k.lower() not in _HOP and k.lower() != "link"]
        if more:
            nxt = f"/v2/{m.group('repo')}/tags/list?n={n}&last={quote(page[-1])}"
            out.append(("Link", f'<{nxt}>; rel="next"'))
        return 200, out, json.dumps({"name": doc.get("name"), "tags": page}).encode()


def _make_handler(proxy: RegistryProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are written separately

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            method, path = self.command, self.path
            with proxy._lock:
                proxy.counts[f"{method} {request_kind(path)}"] += 1
                now = time.monotonic()
                proxy.times.append(now)
                over = proxy._over_window(now)
            if proxy.delay:
                time.sleep(proxy.delay)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            if over or proxy._match(proxy._throttle, method, path):
                msg = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'
                self._send(
                    429,
                    [("Retry-After", proxy.retry_after), ("Content-Type", "application/json")],
                    msg,
                    method,
                )
                return
            result = proxy.paginate(path, headers) if method == "GET" else None
            status, hdrs, data = result or proxy.forward(method, path, headers, body)
            if method == "GET" and status == 200 and proxy._match(proxy._corrupt, method, path):
                data = data.replace(b'"schemaVersion":2', b'"schemaVersion": 2', 1)
                if len(data) and not data.endswith(b"\n"):
                    data += b"\n"
            if proxy.strip_digest_header:
                hdrs = [(k, v) for k, v in hdrs if k.lower() != "docker-content-digest"]
            length_hdr = next((v for k, v in hdrs if k.lower() == "content-length"), None)
            self._send(status, hdrs, data, method, length_hdr)

        def _send(
            self,
            status: int,
            hdrs: list[tuple[str, str]],
            data: bytes,
            method: str,
            head_length: str | None = None,
        ) -> None:
            self.send_response(status)
            for k, v in hdrs:
                if k.lower() not in _HOP:
                    self.send_header(k, v)
            if method == "HEAD":
                self.send_header("Content-Length", head_length or "0")
                self.end_headers()
                return
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    return Handler
