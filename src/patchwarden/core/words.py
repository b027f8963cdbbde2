"""Counting nouns in messages: "1 reference", "2 references", "1 vulnerability"."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, made plural unless ``n`` is 1 (``y`` after a consonant: ``ies``)."""
    if n == 1:
        return f"{n} {word}"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}s"
