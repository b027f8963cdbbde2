"""Regular expressions in patchwarden.yaml are compiled when the file is read, so a bad one is
a configuration error naming its key, not a failure in the middle of a run."""

from __future__ import annotations

import re
from collections.abc import Iterable


def check_regexes(patterns: Iterable[str | None]) -> None:
    """Raise ValueError (pydantic reports it with the key's path) for the first bad pattern."""
    for pattern in patterns:
        if pattern is None:
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
