"""Human durations (config and messages): ``90s``, ``30m``, ``12h``, ``3d``, ``2w``, or
combined (``1d12h``)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> timedelta:
    s = text.strip().lower()
    if not s or _PART.sub("", s):
        raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 30m, 12h, 3d, 2w or 1d12h")
    return timedelta(seconds=sum(int(n) * _UNIT[u] for n, u in _PART.findall(s)))


def format_duration(delta: timedelta) -> str:
    """``7d``, ``1d12h``, ``90m`` → ``1h30m``, ``0s``; sub-second parts are dropped. Days are the
    largest unit (``14d``, not ``2w``); :func:`parse_duration` reads it back."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNIT[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
