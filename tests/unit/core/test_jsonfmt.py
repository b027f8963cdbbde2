from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from patchwarden.core.jsonfmt import loads, pretty


class Colour(StrEnum):
    red = "red"


@dataclass
class Point:
    x: int


def test_pretty_is_indented_utf8_json_with_a_final_newline() -> None:
    data = {"name": "café", "n": [1, 2], "c": Colour.red, "p": Point(3), "none": None}
    text = pretty(data)
    assert text.endswith("}\n") and '\n  "name": "café"' in text
    assert json.loads(text) == {
        "name": "café",
        "n": [1, 2],
        "c": "red",
        "p": {"x": 3},
        "none": None,
    }
    assert json.loads(pretty({"t": datetime(2026, 1, 2, tzinfo=UTC)}))["t"].startswith("2026-01-02")


def test_loads_accepts_what_json_dumps_wrote() -> None:
    for value in ({"a": [1, "x"]}, "\ud800", float("inf")):
        text = json.dumps(value)
        got = loads(text)
        assert got == value or (got != got and value != value)
    assert loads(b'{"k": 1}') == {"k": 1}
