"""The closed sets of live container updates: how one ended, and what was done.

Shared by the use case (``app/live``), the state store (``store/``) and the CLI; light to
import (the store package loads SQLAlchemy).
"""

from __future__ import annotations

from enum import StrEnum


class LiveOutcome(StrEnum):
    """How a live update, rollback or recovery of one container ended."""

    UPDATED = "updated"
    REVERTED = "reverted"  # a requested rollback
    ROLLED_BACK = "rolled-back"  # an update that failed its gate
    AVAILABLE = "available"  # monitor only
    UP_TO_DATE = "up-to-date"
    SKIPPED = "skipped"
    FAILED = "failed"


class LiveAction(StrEnum):
    UPDATE = "update"
    ROLLBACK = "rollback"
    RECOVER = "recover"
