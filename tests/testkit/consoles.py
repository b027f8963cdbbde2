"""Forget the CLI's lazily made rich consoles, so the next use reads COLUMNS again."""

from __future__ import annotations

from typing import Any, cast

from patchwarden.cli import common


def reset_consoles() -> None:
    for lazy in (common.out, common.err):
        cast(Any, lazy)._console = None
