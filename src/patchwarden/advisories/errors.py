"""Errors of the advisory index, light to import (no pydantic, no SQLite): ``scan`` reports a
missing index before it loads anything else."""

from __future__ import annotations

from pathlib import Path

from patchwarden.errors import PatchwardenError, UsageError


class AdvisoryIndexError(PatchwardenError):
    """The advisory index is missing, unreadable, or from another schema version."""


class MissingIndexError(AdvisoryIndexError, UsageError):
    """There is no index yet: a usage error (exit 2), the user has a command to run."""


MISSING_HINT = "run `patchwarden db update` (or `patchwarden db import FILE` offline)"


def missing_index(path: Path, more: str = "") -> MissingIndexError:
    """There is no index at ``path``. ``more`` is the calling command's own way out, appended
    to the hint (e.g. ``", or pass --db PATH"``)."""
    return MissingIndexError(f"no advisory index found at {path}", MISSING_HINT + more)
