"""Open and use the state store.

:func:`open_store` resolves where the database lives (:mod:`patchwarden.store.connection`),
creates it if needed and brings its schema to the newest Alembic revision
(:mod:`patchwarden.store.migrate`) before returning. Every failure is a
:class:`~patchwarden.store.errors.StoreError` whose message shows the URL with its password
hidden.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from sqlalchemy import Engine, Select, and_, create_engine, or_, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.errors import ExitCode
from patchwarden.net.redact import redact_text
from patchwarden.store import tags
from patchwarden.store.builds import BuildRecord, from_row, to_row, validate_build
from patchwarden.store.connection import (
    ENV_VAR,
    HINT_ENV,
    clean_text,
    resolve_url,
    safe_url,
    sqlite_file,
    wrap_error,
)
from patchwarden.store.errors import StoreError
from patchwarden.store.migrate import migrate
from patchwarden.store.model import TagBaseline, UpdateRecord, validate
from patchwarden.store.orm import BuildRow, UpdateRow

T = TypeVar("T")

if TYPE_CHECKING:
    from patchwarden.store.locks import AdvisoryLocks, FileLocks
    from patchwarden.store.rollouts import RolloutStore

SQLITE_BUSY_TIMEOUT_S: Final = 30.0


def _driver_hint(url: URL, module: str | None) -> str:
    if url.get_backend_name() == "postgresql":
        return (
            f"install the PostgreSQL driver: pip install 'psycopg[binary]'"
            f" (missing module {module or 'unknown'}); use a postgresql+psycopg:// URL"
        )
    return f"install the database driver module {module or ''} for this URL".strip()


def _create_engine(url: URL) -> Engine:
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        return create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    return create_engine(url, pool_pre_ping=True)


def open_existing_store(url_or_path: str | None = None) -> Store | None:
    """Like :func:`open_store` for readers: None when the SQLite file does not exist yet
    (nothing was recorded), rather than creating it and its directories to read nothing."""
    raw = resolve_url(url_or_path)
    with contextlib.suppress(ArgumentError):
        path = sqlite_file(make_url(raw))
        if path is not None and not path.exists():
            return None
    return open_store(raw)


def open_store(url_or_path: str | None = None) -> Store:
    """Open (creating and migrating as needed) the state store; see :func:`resolve_url`."""
    raw = resolve_url(url_or_path)
    try:
        url = make_url(raw)
    except ArgumentError:
        raise StoreError(
            f"invalid state store URL {redact_text(raw)!r}",
            "use a file path, sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
            exit_code=ExitCode.USAGE,
        ) from None
    try:
        engine = _create_engine(url)
    except (ImportError, NoSuchModuleError) as exc:
        module = getattr(exc, "name", None)
        raise StoreError(
            f"cannot open the state store at {safe_url(url)}: "
            f"the database driver is not installed ({clean_text(str(exc), url)})",
            _driver_hint(url, module),
        ) from None
    except OSError as exc:
        raise StoreError(
            f"cannot create the state store directory for {safe_url(url)}: {exc.strerror or exc}",
            HINT_ENV,
        ) from None
    except SQLAlchemyError as exc:
        raise wrap_error(exc, url, "open") from None
    try:
        migrate(engine)
    except StoreError:
        engine.dispose()
        raise
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise wrap_error(exc, url, "open") from None
    return Store(engine)


def _to_record(row: UpdateRow) -> UpdateRecord:
    return UpdateRecord(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        container=row.container,
        from_image=row.from_image,
        from_digest=row.from_digest,
        to_image=row.to_image,
        to_digest=row.to_digest,
        outcome=row.outcome,
        reason=row.reason,
        gates=dict(row.gates or {}),
        duration_s=row.duration_s,
        action=row.action,
    )


class Store:
    """The history of live updates. Use as a context manager or call :meth:`close`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for the other tables' modules (promotions, service tables)."""
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with its password hidden."""
        return safe_url(self._engine.url)

    @property
    def rollouts(self) -> RolloutStore:
        """Rollout records and their audit steps (``patchwarden rollout``)."""
        from patchwarden.store.rollouts import RolloutStore

        return RolloutStore(self._engine, wrap_error)

    def container_locks(self, scope: str, owner: str) -> FileLocks | AdvisoryLocks | None:
        """Locks per container of the engine ``scope``, held as ``owner`` (see
        :mod:`patchwarden.store.locks`); None for a store that cannot hold them across
        processes (an in-memory database)."""
        from patchwarden.store import locks

        url = self._engine.url
        path = sqlite_file(url)
        if path is not None and hasattr(os, "pwrite"):
            return locks.FileLocks(path.with_name(path.name + ".locks"), scope, owner)
        if url.get_backend_name() == "postgresql":
            return locks.AdvisoryLocks(self._engine, scope, owner)
        return None

    def record(self, rec: UpdateRecord) -> UpdateRecord:
        """Store ``rec`` (whose ``id`` must be None); return it with its new id, times in UTC."""
        clean = validate(rec)
        row = UpdateRow(
            action=clean.action,
            started_at=clean.started_at,
            finished_at=clean.finished_at,
            container=clean.container,
            from_image=clean.from_image,
            from_digest=clean.from_digest,
            to_image=clean.to_image,
            to_digest=clean.to_digest,
            outcome=clean.outcome,
            reason=clean.reason,
            gates=clean.gates,
            duration_s=clean.duration_s,
        )
        return replace(clean, id=self._insert(row))

    def check_writable(self) -> None:
        """Raise :class:`StoreError` unless a record can be written: called before any
        container is touched, so that an update is never made that cannot be recorded."""
        probe = UpdateRow(
            action="update",
            started_at=datetime.now(UTC),
            finished_at=None,
            container="patchwarden-write-probe",
            from_image="",
            from_digest=None,
            to_image="",
            to_digest=None,
            outcome="failed",
            reason="write probe (rolled back)",
            gates={},
            duration_s=None,
        )
        try:
            with Session(self._engine) as session:
                session.begin()
                session.add(probe)
                session.flush()
                session.rollback()
        except SQLAlchemyError as exc:
            err = wrap_error(exc, self._engine.url, "write to")
            raise StoreError(
                f"{err.message}; nothing was changed",
                err.hint
                or "make the state store writable, or pass --state / "
                f"{ENV_VAR} with a writable location",
                exit_code=err.exit_code,
            ) from None

    def history(self, container: str | None = None, limit: int = 100) -> list[UpdateRecord]:
        """Records newest first (by ``started_at``, then id), optionally of one container."""
        if limit <= 0:
            return []
        stmt = select(UpdateRow)
        if container is not None:
            stmt = stmt.where(UpdateRow.container == container)
        stmt = stmt.order_by(UpdateRow.started_at.desc(), UpdateRow.id.desc()).limit(limit)
        return self._query(stmt)

    def last_success(self, container: str) -> UpdateRecord | None:
        """The newest record that left ``container`` on a known-good image.

        That is outcome ``updated`` (any action) or ``reverted`` (a requested rollback that
        passed its gate; records written before 0.2 said ``rolled-back`` with action
        ``rollback``). An update that was rolled back automatically is not a success.
        """
        stmt = (
            select(UpdateRow)
            .where(UpdateRow.container == container)
            .where(
                or_(
                    UpdateRow.outcome.in_(("updated", "reverted")),
                    and_(UpdateRow.action == "rollback", UpdateRow.outcome == "rolled-back"),
                )
            )
            .order_by(UpdateRow.started_at.desc(), UpdateRow.id.desc())
            .limit(1)
        )
        rows = self._query(stmt)
        return rows[0] if rows else None

    def tag_baselines(self) -> dict[str, TagBaseline]:
        """Every floating tag's baseline digest (see :mod:`patchwarden.store.tags`)."""
        try:
            return tags.load(self._engine)
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "read") from None

    def observe_tags(self, seen: Mapping[str, str], now: datetime) -> None:
        """Record the digests ``name:tag`` pointed at ``now``, in one transaction."""
        try:
            tags.save(self._engine, seen, now)
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "write to") from None

    def record_build(self, rec: BuildRecord) -> BuildRecord:
        """Store a ``rebuild`` record (``id`` None); return it with its id."""
        clean = validate_build(rec)
        return replace(clean, id=self._insert(to_row(clean)))

    def _insert(self, row: UpdateRow | BuildRow) -> int:
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
                session.flush()
                return row.id
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "write to") from None

    def builds(
        self,
        name: str | None = None,
        *,
        destination: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> list[BuildRecord]:
        """Build records newest first, optionally of one build, destination and outcome."""
        stmt = select(BuildRow)
        if name is not None:
            stmt = stmt.where(BuildRow.name == name)
        if destination is not None:
            stmt = stmt.where(BuildRow.destination == destination)
        if outcome is not None:
            stmt = stmt.where(BuildRow.outcome == outcome)
        stmt = stmt.order_by(BuildRow.started_at.desc(), BuildRow.id.desc()).limit(max(limit, 0))
        return self._rows(stmt, from_row)

    def last_pushed_build(self, name: str, destination: str) -> BuildRecord | None:
        """The newest pushed build of ``name`` to ``destination`` (a build is both: two
        configurations may share a state store and a build name)."""
        rows = self.builds(name, destination=destination, outcome="pushed", limit=1)
        return rows[0] if rows else None

    def _query(self, stmt: Select[Any]) -> list[UpdateRecord]:
        return self._rows(stmt, _to_record)

    def _rows(self, stmt: Select[Any], convert: Callable[[Any], T]) -> list[T]:
        try:
            with Session(self._engine) as session:
                return [convert(r) for r in session.scalars(stmt)]
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "read") from None
        except (ValueError, TypeError, RecursionError) as exc:  # a row edited or damaged
            raise StoreError(
                f"the update history in {safe_url(self._engine.url)} has a malformed row "
                f"({type(exc).__name__}: {redact_text(str(exc))[:200]})",
                "the database was edited or damaged; restore it from a backup, or move it "
                f"away (a new one is created) with --state / {ENV_VAR}",
            ) from None

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
