"""Digests observed for floating tags: read all at once, written in one transaction per run.

A ``check`` of 1,000 references must not cost 1,000 database round trips, so the checker
reads every baseline once (:func:`load`) and hands back what it saw at the end (:func:`save`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from patchwarden.store.model import TagBaseline
from patchwarden.store.orm import TagDigestRow


def load(engine: Engine) -> dict[str, TagBaseline]:
    with Session(engine) as session:
        return {
            r.image: TagBaseline(r.image, r.baseline_digest, r.baseline_at, r.digest, r.changed_at)
            for r in session.scalars(select(TagDigestRow))
        }


def save(engine: Engine, seen: Mapping[str, str], now: datetime) -> None:
    """Record that each ``name:tag`` in ``seen`` pointed at its digest ``now``. A new tag's
    first digest is its baseline; a later move keeps the baseline and notes when it moved."""
    if not seen:
        return
    with Session(engine) as session, session.begin():
        rows = {
            r.image: r
            for r in session.scalars(select(TagDigestRow).where(TagDigestRow.image.in_(seen)))
        }
        for image, digest in seen.items():
            row = rows.get(image)
            if row is None:
                session.add(
                    TagDigestRow(
                        image=image,
                        baseline_digest=digest,
                        baseline_at=now,
                        digest=digest,
                        changed_at=None,
                        seen_at=now,
                    )
                )
                continue
            if digest != row.digest:
                row.changed_at = None if digest == row.baseline_digest else now
                row.digest = digest
            row.seen_at = now
