"""Human durations in config: ``90s``, ``30m``, ``12h``, ``3d``, ``2w`` (or combined: ``1d12h``)."""

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


def format_duration(td: timedelta) -> str:
    secs = int(td.total_seconds())
    out = []
    for unit in ("w", "d", "h", "m", "s"):
        n, secs = divmod(secs, _UNIT[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out) or "0s"
