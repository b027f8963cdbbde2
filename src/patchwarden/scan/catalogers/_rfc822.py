"""A small, fast reader for Debian control-style paragraphs (dpkg status, status.d)."""

from __future__ import annotations

from collections.abc import Iterator


def paragraphs(text: str, keep: frozenset[str] | None = None) -> Iterator[dict[str, str]]:
    """Yield each paragraph as ``{Field: value}``; blank (or whitespace-only) lines separate.

    Continuation lines (starting with space or tab) are appended to the previous field with a
    newline. ``keep`` limits the fields stored (case-sensitive names); others are skipped
    cheaply. Lines without a colon are ignored.
    """
    para: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        if not line or line.isspace():
            if para:
                yield para
                para = {}
            current = None
            continue
        first = line[0]
        if first == " " or first == "\t":
            if current is not None:
                para[current] += "\n" + line.strip()
            continue
        if first == "#":
            continue
        key, sep, value = line.partition(":")
        if not sep:
            current = None
            continue
        key = key.strip()
        if keep is not None and key not in keep:
            current = None
            continue
        para[key] = value.strip()
        current = key
    if para:
        yield para
