"""Promotions in the state store: which digest went from where to where, by whom, when, and
what its signature check said."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.store.connection import wrap_error
from patchwarden.store.db import Store
from patchwarden.store.errors import InvalidRecordError
from patchwarden.store.orm import PromotionRow

PROMOTION_OUTCOMES = frozenset({"promoted", "unchanged", "refused", "failed"})


@dataclass(frozen=True)
class PromotionRecord:
    at: datetime
    source: str
    destination: str
    digest: str
    actor: str
    outcome: str
    verification: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


class PromotionLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, rec: PromotionRecord) -> PromotionRecord:
        if rec.outcome not in PROMOTION_OUTCOMES:
            raise InvalidRecordError(f"invalid promotion outcome {rec.outcome!r}")
        if rec.at.tzinfo is None:
            raise InvalidRecordError("at must be timezone-aware")
        row = PromotionRow(
            at=rec.at.astimezone(UTC),
            source=rec.source,
            destination=rec.destination,
            digest=rec.digest,
            actor=rec.actor,
            outcome=rec.outcome,
            verification=rec.verification,
        )
        try:
            with Session(self.store.engine) as s, s.begin():
                s.add(row)
                s.flush()
                new_id = row.id
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self.store.engine.url, "write to") from None
        return PromotionRecord(**{**rec.__dict__, "id": new_id})

    def history(
        self, destination_repo: str | None = None, limit: int = 100
    ) -> list[PromotionRecord]:
        stmt = select(PromotionRow)
        if destination_repo is not None:
            stmt = stmt.where(PromotionRow.destination.startswith(destination_repo))
        stmt = stmt.order_by(PromotionRow.at.desc(), PromotionRow.id.desc()).limit(limit)
        try:
            with Session(self.store.engine) as s:
                return [
                    PromotionRecord(
                        r.at,
                        r.source,
                        r.destination,
                        r.digest,
                        r.actor,
                        r.outcome,
                        dict(r.verification or {}),
                        r.id,
                    )
                    for r in s.scalars(stmt)
                ]
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self.store.engine.url, "read") from None
