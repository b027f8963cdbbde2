"""Alembic environment of the state store.

patchwarden runs it itself (:func:`patchwarden.store.migrate.migrate`), handing over an open
connection in ``config.attributes["connection"]``. Run by hand, it reads ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text

from patchwarden.store.orm import Base

# Any constant works; it only has to be the same for every patchwarden process.
PG_ADVISORY_LOCK_ID = 0x70617463  # "patc"

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes migrating at once: the second waits here, then finds head already
            # applied (Alembic reads the current version after this point).
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_ADVISORY_LOCK_ID}
            )
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
