"""What ``serve`` knows about the fleet: the newest check result per reference, pending
updates and their decisions, the audit log, and which alerts were already sent."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, String, cast, delete, distinct, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.store.connection import transaction, wrap_error
from patchwarden.store.errors import StoreError
from patchwarden.store.orm import AuditRow, FleetRow, NotificationRow, PendingUpdateRow


@dataclass(frozen=True, slots=True)
class FleetItem:
    key: str  # "file:LINE" for a file reference, "container:NAME" for a running container
    source: str
    image: str
    repository: str  # registry/repository, what registry events name
    status: str
    update_kind: str | None
    current_tag: str | None
    current_digest: str | None
    candidate_tag: str | None
    candidate_digest: str | None
    reason: str
    checked_at: datetime
    vulns: dict[str, Any] = field(default_factory=dict)


class FleetLine(NamedTuple):
    """A fleet row as the overview's table shows it."""

    key: str
    image: str
    source: str
    status: str
    current_tag: str | None
    current_digest: str | None
    candidate_tag: str | None
    candidate_digest: str | None
    update_kind: str | None


@dataclass(frozen=True, slots=True)
class PendingUpdate:
    id: int
    change_key: str
    fleet_key: str
    container: str | None
    image: str
    from_digest: str | None
    to_image: str
    to_digest: str | None
    update_kind: str
    state: str  # pending | approved | denied | applying | applied | failed
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    result: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: str


def summarize(items: Iterable[FleetItem]) -> dict[str, Any]:
    """References and distinct images; counts by status, by update kind, by severity."""
    images: set[str] = set()
    status: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    severities: Counter[str] = Counter()
    n = 0
    for i in items:
        n += 1
        images.add(i.image)
        status[i.status] += 1
        if i.update_kind:
            kinds[i.update_kind] += 1
        for sev, count in (i.vulns or {}).get("by_severity", {}).items():
            severities[sev] += int(count)
    return {
        "references": n,
        "images": len(images),
        "by_status": dict(status),
        "outdated_by_kind": dict(kinds),
        "vulnerabilities_by_severity": dict(severities),
    }


class DecisionError(StoreError):
    """The pending update is not in a state that allows this decision."""


def _now() -> datetime:
    return datetime.now(UTC)


_FLEET_FIELDS = [f.name for f in fields(FleetItem)]
_PENDING_FIELDS = [f.name for f in fields(PendingUpdate)]


def _fleet(r: FleetRow) -> FleetItem:
    return FleetItem(**{f: getattr(r, f) for f in _FLEET_FIELDS})


def _pending(r: PendingUpdateRow) -> PendingUpdate:
    return PendingUpdate(**{f: getattr(r, f) for f in _PENDING_FIELDS})


class FleetStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _session(self, doing: str) -> AbstractContextManager[Session]:
        return transaction(self._engine, doing)

    # -- fleet --------------------------------------------------------------------------
    def save_results(self, items: Iterable[FleetItem], *, prefix: str | None = None) -> int:
        """Upsert ``items``; with ``prefix``, first drop rows under it that ``items`` lacks
        (a full check of a source replaces what that source had)."""
        rows = [{f: getattr(i, f) for f in _FLEET_FIELDS} for i in items]
        keys = [r["key"] for r in rows]
        with self._session("write to") as s:
            if prefix is not None:  # the whole source is replaced
                s.execute(delete(FleetRow).where(FleetRow.key.startswith(prefix, autoescape=True)))
                keys = [k for k in keys if not k.startswith(prefix)]
            for chunk in range(0, len(keys), 500):  # bounded IN lists
                s.execute(delete(FleetRow).where(FleetRow.key.in_(keys[chunk : chunk + 500])))
            if rows:
                s.execute(insert(FleetRow), rows)
        return len(rows)

    def prune(self, prefix: str, keep: Iterable[str]) -> int:
        """Drop rows under ``prefix`` whose key is not in ``keep`` (references gone from the
        files, when the check itself runs in parts); the number dropped."""
        wanted = set(keep)
        stmt = select(FleetRow.key).where(FleetRow.key.startswith(prefix, autoescape=True))
        with self._session("write to") as s:
            gone = [k for k in s.scalars(stmt) if k not in wanted]
            for chunk in range(0, len(gone), 500):
                s.execute(delete(FleetRow).where(FleetRow.key.in_(gone[chunk : chunk + 500])))
        return len(gone)

    def fleet(self, *, limit: int = 10_000, offset: int = 0) -> list[FleetItem]:
        cols = [getattr(FleetRow, f) for f in _FLEET_FIELDS]
        stmt = select(*cols).order_by(FleetRow.image, FleetRow.key).limit(limit).offset(offset)
        with self._session("read") as s:
            return [FleetItem(*row) for row in s.execute(stmt)]

    def item(self, key: str) -> FleetItem | None:
        with self._session("read") as s:
            row = s.get(FleetRow, key)
            return None if row is None else _fleet(row)

    def by_repository(self, repositories: Iterable[str]) -> list[FleetItem]:
        stmt = select(FleetRow).where(FleetRow.repository.in_(list(repositories)))
        with self._session("read") as s:
            return [_fleet(r) for r in s.scalars(stmt)]

    def by_digest(self, digests: Iterable[str]) -> list[FleetItem]:
        """References whose current image is one of ``digests``."""
        wanted = list(dict.fromkeys(digests))
        cols = [getattr(FleetRow, f) for f in _FLEET_FIELDS]
        out: list[FleetItem] = []
        with self._session("read") as s:
            for i in range(0, len(wanted), 500):
                stmt = select(*cols).where(FleetRow.current_digest.in_(wanted[i : i + 500]))
                out.extend(FleetItem(*row) for row in s.execute(stmt))
        return out

    def set_vulns(self, by_digest: dict[str, dict[str, int]]) -> None:
        """Set ``vulns.by_severity`` of the references running each digest (a re-match)."""
        with self._session("write to") as s:
            for digest, counts in by_digest.items():
                s.execute(
                    update(FleetRow)
                    .where(FleetRow.current_digest == digest)
                    .values(vulns={"by_severity": counts})
                )

    def lines(
        self, *, limit: int = 100, offset: int = 0, status: str | None = None
    ) -> list[FleetLine]:
        """One page of the fleet table: only the columns the overview shows."""
        stmt = select(*[getattr(FleetRow, f) for f in FleetLine._fields])
        if status:
            stmt = stmt.where(FleetRow.status == status)
        stmt = stmt.order_by(FleetRow.image, FleetRow.key).limit(limit).offset(offset)
        with self._session("read") as s:
            return [FleetLine(*row) for row in s.execute(stmt)]

    def summary(self) -> dict[str, Any]:
        """Counts for the overview and ``/metrics`` (what :func:`summarize` gives), counted
        by the database: only the vulnerability counts are read row by row."""
        severities: Counter[str] = Counter()
        with self._session("read") as s:
            n, images = s.execute(select(func.count(), func.count(distinct(FleetRow.image)))).one()
            status = s.execute(select(FleetRow.status, func.count()).group_by(FleetRow.status))
            by_status = {st: int(c) for st, c in status}
            kinds = s.execute(
                select(FleetRow.update_kind, func.count())
                .where(FleetRow.update_kind.is_not(None), FleetRow.update_kind != "")
                .group_by(FleetRow.update_kind)
            )
            by_kind = {k: int(c) for k, c in kinds}
            # as text, each distinct document parsed once (most rows share a few)
            texts = Counter(s.scalars(select(cast(FleetRow.vulns, String))))
            for text, rows in texts.items():
                doc = json.loads(text) if text else None
                for sev, count in ((doc or {}).get("by_severity") or {}).items():
                    severities[sev] += int(count) * rows
        return {
            "references": int(n),
            "images": int(images),
            "by_status": by_status,
            "outdated_by_kind": by_kind,
            "vulnerabilities_by_severity": dict(severities),
        }

    # -- pending updates ----------------------------------------------------------------
    def propose(self, p: PendingUpdate) -> tuple[PendingUpdate, bool]:
        """Record a pending update once per ``change_key``; (the row, whether it is new)."""
        fields = {f: getattr(p, f) for f in _PENDING_FIELDS if f != "id"}
        try:
            with Session(self._engine) as s, s.begin():
                row = PendingUpdateRow(**fields)
                s.add(row)
                s.flush()
                return _pending(row), True
        except IntegrityError:
            pass
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "write to") from None
        with self._session("read") as s:
            existing = s.scalars(
                select(PendingUpdateRow).where(PendingUpdateRow.change_key == p.change_key)
            ).one()
            return _pending(existing), False

    def pending(self, state: str | None = None, limit: int = 500) -> list[PendingUpdate]:
        stmt = select(PendingUpdateRow)
        if state is not None:
            stmt = stmt.where(PendingUpdateRow.state == state)
        stmt = stmt.order_by(PendingUpdateRow.id.desc()).limit(limit)
        with self._session("read") as s:
            return [_pending(r) for r in s.scalars(stmt)]

    def get_pending(self, pid: int) -> PendingUpdate | None:
        with self._session("read") as s:
            row = s.get(PendingUpdateRow, pid)
            return None if row is None else _pending(row)

    def transition(
        self,
        pid: int,
        from_state: str,
        to_state: str,
        *,
        actor: str | None = None,
        result: str | None = None,
    ) -> PendingUpdate:
        """Move ``pid`` from ``from_state`` to ``to_state`` atomically, or raise
        :class:`DecisionError` (another process or person got there first)."""
        values: dict[str, Any] = {"state": to_state}
        if actor is not None:
            values.update(decided_by=actor, decided_at=_now())
        if result is not None:
            values["result"] = result
        stmt = (
            update(PendingUpdateRow)
            .where(PendingUpdateRow.id == pid, PendingUpdateRow.state == from_state)
            .values(**values)
        )
        with self._session("write to") as s:
            changed = s.execute(stmt).rowcount  # type: ignore[attr-defined]
            row = s.get(PendingUpdateRow, pid)
            if row is None:
                raise DecisionError(f"no pending update {pid}", "list them: GET /api/v1/updates")
            if changed != 1:
                raise DecisionError(
                    f"update {pid} is {row.state}, not {from_state}",
                    "only a pending update can be approved or denied, and only once",
                )
            return _pending(row)

    # -- audit --------------------------------------------------------------------------
    def audit(self, actor: str, action: str, subject: str, detail: str = "") -> None:
        with self._session("write to") as s:
            s.add(AuditRow(at=_now(), actor=actor, action=action, subject=subject, detail=detail))

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        with self._session("read") as s:
            return [
                AuditEntry(r.id, r.at, r.actor, r.action, r.subject, r.detail)
                for r in s.scalars(stmt)
            ]

    # -- notifications ------------------------------------------------------------------
    def claim_notification(self, key: str, event: str) -> bool:
        """True exactly once per ``key``, across processes and restarts."""
        try:
            with Session(self._engine) as s, s.begin():
                s.add(NotificationRow(dedup_key=key[:512], event=event, created_at=_now()))
            return True
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "write to") from None

    def notification_sent(self, key: str, error: str | None = None) -> None:
        stmt = (
            update(NotificationRow)
            .where(NotificationRow.dedup_key == key[:512])
            .values(sent_at=None if error else _now(), error=error)
        )
        with self._session("write to") as s:
            s.execute(stmt)

    def notifications_count(self) -> int:
        with self._session("read") as s:
            return int(s.scalar(select(func.count()).select_from(NotificationRow)) or 0)

    # -- counts for metrics -------------------------------------------------------------
    def update_outcomes(self) -> dict[tuple[str, str], int]:
        from patchwarden.store.orm import UpdateRow

        stmt = select(UpdateRow.action, UpdateRow.outcome, func.count()).group_by(
            UpdateRow.action, UpdateRow.outcome
        )
        with self._session("read") as s:
            return {(a, o): int(n) for a, o, n in s.execute(stmt).all()}

    def pending_counts(self) -> dict[str, int]:
        stmt = select(PendingUpdateRow.state, func.count()).group_by(PendingUpdateRow.state)
        with self._session("read") as s:
            return {st: int(n) for st, n in s.execute(stmt).all()}
