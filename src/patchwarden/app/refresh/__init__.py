"""Stored SBOMs and their re-match after an advisory refresh (``serve``'s ``scan`` and
``advisory-refresh`` jobs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwarden.app.exports import lazy_exports

if TYPE_CHECKING:
    from patchwarden.app.refresh.matcher import ImageMatch, brief, rematch
    from patchwarden.app.refresh.refresh import (
        RefreshResult,
        StoreResult,
        index_version,
        refresh_and_rematch,
        store_sboms,
    )

__all__ = [
    "ImageMatch",
    "RefreshResult",
    "StoreResult",
    "brief",
    "index_version",
    "refresh_and_rematch",
    "rematch",
    "store_sboms",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "refresh": [
            "RefreshResult",
            "StoreResult",
            "index_version",
            "refresh_and_rematch",
            "store_sboms",
        ],
        "matcher": ["ImageMatch", "brief", "rematch"],
    },
)
