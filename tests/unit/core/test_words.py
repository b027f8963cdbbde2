from __future__ import annotations

import pytest

from patchwarden.core.words import plural


@pytest.mark.parametrize(
    ("n", "word", "expected"),
    [
        (1, "reference", "1 reference"),
        (2, "reference", "2 references"),
        (0, "known vulnerability", "0 known vulnerabilities"),
        (1, "known vulnerability", "1 known vulnerability"),
        (3, "key", "3 keys"),
        (1, "image reference", "1 image reference"),
    ],
)
def test_plural(n: int, word: str, expected: str) -> None:
    assert plural(n, word) == expected
