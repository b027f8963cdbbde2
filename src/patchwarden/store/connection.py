"""Where the state store is and how its failures read: the URL (argument, environment,
default file), the URL shown with its password hidden, database errors turned into
:class:`~patchwarden.store.errors.StoreError`, and one transaction. Shared by :mod:`db`, the
migrations and every table module of the store."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import platformdirs
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.net.redact import redact_text
from patchwarden.store.errors import StoreError

ENV_VAR: Final = "PATCHWARDEN_STATE"
HINT_ENV = f"pass another path or set {ENV_VAR} to a writable location"


def default_path() -> Path:
    """The SQLite file used when neither an argument nor ``PATCHWARDEN_STATE`` names one."""
    return Path(platformdirs.user_data_dir("patchwarden")) / "state.db"


def resolve_url(url_or_path: str | None = None) -> str:
    """The SQLAlchemy URL for ``url_or_path``: argument, then env, then the default file.

    Anything containing ``://`` is a URL and is used as is; anything else is a file path.
    """
    target = url_or_path or os.environ.get(ENV_VAR) or None
    if target is None:
        return f"sqlite:///{default_path()}"
    if "://" in target:
        return target
    return f"sqlite:///{Path(target).expanduser()}"


def safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def clean_text(text: str, url: URL) -> str:
    """Free text (e.g. a driver message) with the URL's password and any URL userinfo masked."""
    secrets = [url.password] if isinstance(url.password, str) else []
    return redact_text(text, secrets)


def sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def wrap_error(exc: BaseException, url: URL, doing: str) -> StoreError:
    detail = getattr(exc, "orig", None) or exc
    text = clean_text(
        str(detail).strip().splitlines()[0] if str(detail).strip() else type(detail).__name__, url
    )
    hint = HINT_ENV
    low = text.lower()
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        hint = (
            "the file is not a patchwarden SQLite database (or is damaged): "
            f"move it away, or {HINT_ENV}"
        )
    elif "unable to open" in low or "readonly" in low or "read-only" in low:
        hint = f"check the file and directory permissions, or {HINT_ENV}"
    elif url.get_backend_name() == "postgresql":
        hint = "check that the PostgreSQL server is reachable and the credentials are right"
    transient = any(
        w in low for w in ("locked", "timeout", "timed out", "could not connect", "refused")
    )
    return StoreError(
        f"cannot {doing} the state store at {safe_url(url)}: {text}", hint, transient=transient
    )


@contextlib.contextmanager
def transaction(engine: Engine, doing: str) -> Iterator[Session]:
    """A session in a transaction, committed on success; database errors become
    :class:`StoreError` ("cannot ``doing`` the state store ...")."""
    try:
        with Session(engine) as session, session.begin():
            yield session
    except SQLAlchemyError as exc:
        raise wrap_error(exc, engine.url, doing) from None
