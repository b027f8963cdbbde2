"""Thread-safe counters of registry HTTP requests, by kind."""

from __future__ import annotations

import threading
from collections import Counter

_NOT_REQUESTS = frozenset({"retries", "rate_limited", "mirror_fallback"})
KINDS = ("tags", "manifest_head", "manifest_get", "blob", "token", "ping", "probe", "retries")


class RequestStats:
    """Counts requests by kind (``tags``, ``manifest_head``, ..., ``retries``); a retried 429
    also counts as ``rate_limited`` (listed only once it happened)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counts[kind] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = dict.fromkeys(KINDS, 0)
            out.update(self._counts)
            return out

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(v for k, v in self._counts.items() if k not in _NOT_REQUESTS)
