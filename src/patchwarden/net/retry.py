"""Retry policy: which answers are worth another try and how long to wait before it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN check
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter; honours Retry-After up to ``max_wait``.

    ``max_attempts`` counts the first try: 4 means one try and up to three retries.
    """

    max_attempts: int = 4
    base_delay: float = 0.2
    max_backoff: float = 5.0
    max_retry_after: float = 30.0
    statuses: frozenset[int] = RETRY_STATUSES
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def should_retry_status(self, status: int, attempt: int) -> bool:
        """``attempt`` is 1 for the first try."""
        return status in self.statuses and attempt < self.max_attempts

    def should_retry_error(self, attempt: int) -> bool:
        return attempt < self.max_attempts

    def backoff(self, attempt: int) -> float:
        """Delay after failed try number ``attempt`` (1-based): full jitter, capped."""
        ceiling = min(self.max_backoff, self.base_delay * (2 ** (attempt - 1)))
        return self.rng.uniform(ceiling / 2, ceiling)

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """How long to sleep before the next try; a server's Retry-After wins, capped."""
        server = parse_retry_after(retry_after)
        if server is not None:
            return min(server, self.max_retry_after)
        return self.backoff(attempt)
