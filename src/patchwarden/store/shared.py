"""Content-addressed work shared by every worker of a fleet (``shared_content``): an entry's
key names its content (a layer digest and the cataloger versions that read it), so it is
written once, never changed, and any worker may use what another one computed.

Implements :class:`patchwarden.scan.layer_cache.SharedBlobs`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.store.orm import SharedContentRow

log = logging.getLogger("patchwarden.store.shared")
MAX_BODY = 64 * 1024 * 1024


class SharedContent:
    def __init__(self, engine: Engine, kind: str, max_body: int = MAX_BODY) -> None:
        self._engine = engine
        self.kind = kind
        self.max_body = max_body

    def newest(self) -> str | None:
        """The key (without the kind) of the entry of this kind written last."""
        stmt = (
            select(SharedContentRow.key)
            .where(SharedContentRow.kind == self.kind)
            .order_by(SharedContentRow.created_at.desc())
            .limit(1)
        )
        try:
            with Session(self._engine) as s:
                key = s.execute(stmt).scalar_one_or_none()
        except SQLAlchemyError as exc:
            log.warning("shared %s store unreadable: %s", self.kind, type(exc).__name__)
            return None
        return None if key is None else key.removeprefix(f"{self.kind}:")

    def read(self, key: str) -> bytes | None:
        """The body stored under ``key``; None when absent or the store is unreachable (a
        shared cache is an optimisation: a miss means the work is done here)."""
        stmt = select(SharedContentRow.body).where(SharedContentRow.key == f"{self.kind}:{key}")
        try:
            with Session(self._engine) as s:
                body = s.execute(stmt).scalar_one_or_none()
        except SQLAlchemyError as exc:
            log.warning("shared %s store unreadable: %s", self.kind, type(exc).__name__)
            return None
        return None if body is None else bytes(body)

    def write(self, key: str, body: bytes) -> None:
        if len(body) > self.max_body:
            log.warning("shared %s entry of %d bytes not stored", self.kind, len(body))
            return
        row = SharedContentRow(
            key=f"{self.kind}:{key}", kind=self.kind, body=body, created_at=datetime.now(UTC)
        )
        try:
            with Session(self._engine) as s, s.begin():
                s.add(row)
        except IntegrityError:
            pass  # another worker wrote the same content first
        except SQLAlchemyError as exc:
            log.warning("shared %s store not written: %s", self.kind, type(exc).__name__)
