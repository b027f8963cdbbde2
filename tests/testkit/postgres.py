"""A throwaway PostgreSQL server for a test module: the ``pg`` fixture (import it by name).

Debian's ``postgresql`` package, on loopback; missing, the tests are skipped, and fail under
``CI=true``, where a missing server is an error."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from patchwarden.devtools.postgres_server import PostgresServer, PostgresServerError, pg_bindir


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    if pg_bindir() is None:
        msg = "PostgreSQL is not installed (Debian: postgresql; scripts/install-system-deps.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    try:
        with PostgresServer() as server:
            yield server
    except PostgresServerError as exc:
        pytest.fail(str(exc), pytrace=False)
