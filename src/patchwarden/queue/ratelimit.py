"""The fleet-wide registry rate limit: one token bucket per registry host in Redis, shared by
``serve`` and every worker, taken by one atomic Lua script per request.

The script reads Redis's own clock (``TIME``), so workers on machines whose clocks disagree
still share one bucket. A ``429`` seen by any process sets the host's *blocked-until* key to the
registry's ``Retry-After``, and every process waits it out. When Redis cannot be reached the
limiter lets requests through (logged once): a broker outage must not also stop checks that
need no queue; the registry's own 429s are still honoured per process by the retry policy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("patchwarden.queue.ratelimit")

# KEYS: bucket hash, blocked-until key. ARGV: rate (tokens/s; 0 = no bucket), capacity.
# Returns the seconds to wait as a string (Lua numbers would be truncated to integers); "0":
# a token was taken.
TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return tostring(blocked - now) end
local rate = tonumber(ARGV[1])
if rate <= 0 then return '0' end
local cap = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = cap; ts = now end
if now > ts then tokens = math.min(cap, tokens + (now - ts) * rate) end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(cap / rate) + 60)
return tostring(wait)
"""

# KEYS: blocked-until key. ARGV: seconds. Extends, never shortens, the block.
BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then
  redis.call('SET', KEYS[1], tostring(untl), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return tostring(untl)
"""


class RedisTokenBucket:
    """A :class:`~patchwarden.registry.ratelimit.RateLimiter` in Redis. ``limits`` maps a
    registry host to (tokens per second, bucket size)."""

    def __init__(
        self,
        redis: Any,
        limits: Mapping[str, tuple[float, int]],
        *,
        prefix: str = "patchwarden:ratelimit:",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.redis = redis
        self.limits = dict(limits)
        self.prefix = prefix
        self._sleep = sleep
        self._take = redis.register_script(TAKE)
        self._block = redis.register_script(BLOCK)
        self._warned = threading.Event()

    def _keys(self, host: str) -> tuple[str, str]:
        return f"{self.prefix}{host}:bucket", f"{self.prefix}{host}:blocked"

    def wait_time(self, host: str) -> float:
        rate, cap = self.limits.get(host, (0.0, 0))
        try:
            return float(self._take(keys=list(self._keys(host)), args=[rate, cap]))
        except Exception as exc:  # redis' errors: unreachable, timed out, script refused
            if not self._warned.is_set():
                self._warned.set()
                from patchwarden.net.redact import redact_text

                log.warning("rate limiter unreachable, not pacing: %s", redact_text(str(exc)))
            return 0.0

    def acquire(self, host: str) -> None:
        while (wait := self.wait_time(host)) > 0:
            self._sleep(min(wait, 60.0))

    def throttled(self, host: str, seconds: float) -> None:
        try:
            self._block(keys=[self._keys(host)[1]], args=[max(0.0, seconds)])
        except Exception:  # as in wait_time: the per-process retry still honours Retry-After
            log.debug("could not record a 429 of %s in Redis", host)
