"""The state store's schema: Alembic migrations brought to head when a store is opened
(one process at a time per SQLite file), and the cheap check that skips Alembic when the
store is already there."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from patchwarden.store.connection import safe_url, sqlite_file, wrap_error
from patchwarden.store.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"


@contextlib.contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    """An exclusive advisory lock on ``PATH.lock`` while migrating a SQLite file (POSIX only)."""
    if path is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no lock; SQLite's own locking is the only guard there
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(?:[\"']([^\"']+)[\"']|None)\s*$", re.M)


@functools.cache
def _head_from_files() -> str | None:
    """The newest revision, read from the migration files' ``revision``/``down_revision``
    lines without importing Alembic (a store already at head needs nothing more); None when
    the files do not give exactly one head (Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found: dict[str, str | None] = {m[1]: m[2] for m in _REVISION.finditer(source)}
        if "revision" not in found:
            continue
        revisions.add(str(found["revision"]))
        if parent := found.get("down_revision"):
            parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """The store's schema is at the newest revision (one query, no Alembic import)."""
    head = _head_from_files()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:  # no such table yet: a new store
        return False
    return [r[0] for r in rows] == [head]


def migrate(engine: Engine) -> bool:
    """Bring the schema to head; True when a migration ran, False when it was already there."""
    if _at_head(engine):
        return False
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    cfg = _alembic_config()
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    url = engine.url
    with _file_lock(sqlite_file(url)):
        current = current_revision(engine)
        if current == head:
            return False
        if current is not None and current not in {s.revision for s in script.walk_revisions()}:
            raise StoreError(
                f"the state store at {safe_url(url)} has schema revision {current}, "
                "which this patchwarden does not know",
                "it was written by a newer patchwarden: upgrade patchwarden, "
                "or point at another state store",
            )
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except CommandError as exc:
            raise wrap_error(exc, url, "open") from None
    return True
