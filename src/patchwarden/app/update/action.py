"""What ``update`` did with one group; light to import (the CLI styles by it)."""

from __future__ import annotations

from enum import StrEnum


class UpdateAction(StrEnum):
    """What ``update`` did with one group (``--format json``: ``groups[].action``)."""

    DRY_RUN = "dry-run"
    WRITTEN = "written"  # files rewritten, nothing committed
    COMMITTED = "committed"
    UPDATED = "updated"  # the group's existing branch got a new commit
    UNCHANGED = "unchanged"
    MERGED = "merged"  # the change is already on the base branch
    SKIPPED = "skipped"  # every reference of the group was skipped (with reasons)
    FAILED = "failed"
