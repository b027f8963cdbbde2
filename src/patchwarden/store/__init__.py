"""The state store: a record of every live container update, rollback and failure.

SQLite by default (``platformdirs.user_data_dir("patchwarden")/state.db``), any SQLAlchemy URL
otherwise (PostgreSQL via ``postgresql+psycopg://``). The schema is managed by Alembic and
brought to head whenever a store is opened. See docs/state-store.md.
"""

from __future__ import annotations

from patchwarden.store.builds import BUILD_OUTCOMES, BuildRecord
from patchwarden.store.connection import ENV_VAR, default_path, resolve_url
from patchwarden.store.db import Store, open_existing_store, open_store
from patchwarden.store.errors import InvalidRecordError, StoreError
from patchwarden.store.model import ACTIONS, OUTCOMES, UpdateRecord

__all__ = [
    "ACTIONS",
    "BUILD_OUTCOMES",
    "ENV_VAR",
    "OUTCOMES",
    "BuildRecord",
    "InvalidRecordError",
    "Store",
    "StoreError",
    "UpdateRecord",
    "default_path",
    "open_existing_store",
    "open_store",
    "resolve_url",
]
