"""Is the broker reachable? ``serve``'s ``/readyz`` asks when ``queue.broker_url`` is set: a
``serve`` that cannot queue jobs is not ready, whatever else works."""

from __future__ import annotations

import threading
from typing import Any


class BrokerProbe:
    """``PING`` to the Redis broker, with short timeouts (one client, reconnected as needed)."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self._client: Any = None
        self._lock = threading.Lock()

    def problem(self) -> str | None:
        """None when the broker answers; else why not (no credentials in it)."""
        import redis

        with self._lock:
            if self._client is None:
                self._client = redis.Redis.from_url(
                    self.url, socket_connect_timeout=self.timeout, socket_timeout=self.timeout
                )
            try:
                self._client.ping()
            except redis.RedisError as exc:
                from patchwarden.net.redact import redact_text

                return f"the broker (queue.broker_url) is unreachable: {redact_text(str(exc))}"
        return None
