"""Module-scoped real PostgreSQL and Redis servers on loopback: the ``pg`` and
``redis_server`` fixtures, for every test module that names them as parameters.

This module is a pytest plugin (``pytest_plugins`` in tests/conftest.py), so a test module
neither defines nor imports them. Each module that uses one gets its own server (started on
first use, stopped after the module's last test). A missing server program skips the tests,
and fails them under ``CI=true`` (:func:`testkit.fleet.redis_or_fail`,
:func:`testkit.fleet.postgres_or_fail`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from patchwarden.devtools.postgres_server import PostgresServer
from patchwarden.devtools.redis_server import RedisServer
from testkit.fleet import postgres_or_fail, redis_or_fail


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with redis_or_fail() as server:
        yield server


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_or_fail() as server:
        yield server
