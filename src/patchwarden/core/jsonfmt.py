"""Indented JSON for reports and ``--format json`` (the one home of orjson).

``json.dumps(..., indent=2)`` drops to the pure-Python encoder when indenting: ~30 ms for a
600-package scan report, a sixth of a warm scan. orjson writes the same structure (two-space
indent, UTF-8, dataclasses/enums/datetimes as JSON values) in about 1 ms.
"""

from __future__ import annotations

from typing import Any

import orjson


def pretty(data: Any) -> str:
    """``data`` as two-space indented JSON text ending in a newline."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
