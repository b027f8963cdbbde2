"""The rate-limit seam of the registry client: asked before every request to a host, told
about every ``429 Too Many Requests``.

:class:`LocalTokenBucket` keeps the buckets in this process (one ``check`` or ``serve``);
``patchwarden.queue.ratelimit.RedisTokenBucket`` keeps them in Redis, shared by every worker
of a fleet (``queue.rate_limits``). A registry's ``Retry-After`` holds every request to that
host back, not only the one retried.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol


class RateLimiter(Protocol):
    def acquire(self, host: str) -> None:
        """Block until a request to ``host`` may go out."""
        ...

    def throttled(self, host: str, seconds: float) -> None:
        """``host`` answered 429: hold every request to it back for ``seconds``."""
        ...


class LocalTokenBucket:
    """Per-host token buckets in this process: ``limits`` maps a host to (tokens per second,
    bucket size); hosts without a limit only honour 429s."""

    def __init__(
        self,
        limits: Mapping[str, tuple[float, int]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(limits)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, float]] = {}  # host -> (tokens, at)
        self._blocked: dict[str, float] = {}

    def _wait(self, host: str) -> float:
        now = self._clock()
        with self._lock:
            until = self._blocked.get(host, 0.0)
            if until > now:
                return until - now
            limit = self.limits.get(host)
            if limit is None:
                return 0.0
            rate, cap = limit
            tokens, at = self._tokens.get(host, (float(cap), now))
            tokens = min(float(cap), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._tokens[host] = (tokens - 1.0, now)
                return 0.0
            self._tokens[host] = (tokens, now)
            return (1.0 - tokens) / rate

    def acquire(self, host: str) -> None:
        while (wait := self._wait(host)) > 0:
            self._sleep(wait)

    def throttled(self, host: str, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            self._blocked[host] = max(self._blocked.get(host, 0.0), until)
