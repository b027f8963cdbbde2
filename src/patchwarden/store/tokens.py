"""API tokens of ``serve``: stored as SHA-256 only, shown once when created.

Tokens are 32 random bytes (URL-safe base64, prefixed ``pw_``): a fast hash is the right
choice for secrets with that much entropy (as GitHub and PyPI do); a stolen database yields
no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.errors import UsageError
from patchwarden.store.connection import wrap_error
from patchwarden.store.orm import ApiTokenRow

PREFIX = "pw_"


class Role(StrEnum):
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    name: str
    role: Role
    created_at: datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, name: str, role: Role) -> tuple[TokenInfo, str]:
        """A new token named ``name``; returns its record and the token (shown only now)."""
        if not name or len(name) > 128:
            raise UsageError("a token name must be 1 to 128 characters")
        token = new_token()
        row = ApiTokenRow(
            name=name, token_sha256=digest(token), role=role.value, created_at=datetime.now(UTC)
        )
        try:
            with Session(self._engine) as s, s.begin():
                s.add(row)
                s.flush()
                info = TokenInfo(row.id, row.name, Role(row.role), row.created_at)
        except IntegrityError:
            raise UsageError(
                f"a token named {name!r} exists already", "delete it first or pick another name"
            ) from None
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "write to") from None
        return info, token

    def lookup(self, token: str) -> TokenInfo | None:
        stmt = select(ApiTokenRow).where(ApiTokenRow.token_sha256 == digest(token))
        try:
            with Session(self._engine) as s:
                row = s.scalars(stmt).first()
                return (
                    None
                    if row is None
                    else TokenInfo(row.id, row.name, Role(row.role), row.created_at)
                )
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "read") from None

    def list(self) -> list[TokenInfo]:
        try:
            with Session(self._engine) as s:
                return [
                    TokenInfo(r.id, r.name, Role(r.role), r.created_at)
                    for r in s.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name))
                ]
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "read") from None

    def delete(self, name: str) -> bool:
        try:
            with Session(self._engine) as s, s.begin():
                res = s.execute(delete(ApiTokenRow).where(ApiTokenRow.name == name))
                return res.rowcount == 1  # type: ignore[attr-defined, no-any-return]
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "write to") from None
