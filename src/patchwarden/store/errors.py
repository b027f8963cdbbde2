"""Errors raised by the state store. Messages never contain a database password."""

from __future__ import annotations

from patchwarden.errors import ExitCode, PatchwardenError


class StoreError(PatchwardenError):
    """The state store cannot be opened, migrated, read or written."""


class InvalidRecordError(StoreError, ValueError):
    """A record handed to :meth:`Store.record` breaks the schema (a caller bug)."""

    exit_code = ExitCode.INTERNAL
