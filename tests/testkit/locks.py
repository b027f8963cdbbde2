"""Exclusive file locks for slow set-ups shared between test processes.

``make test`` runs the suite on several pytest-xdist workers, and other test runs may share the
machine: a cache kept across runs (a venv in ``.pytest_cache``, a debootstrapped root file
system under ``/tmp``) is built by one process at a time. The others wait on the lock and then
find the finished result. Always check "is it built?" *inside* the lock.
"""

from __future__ import annotations

import fcntl
import functools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def one_at_a_time(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` under a machine-wide lock named after it: for a builder (or a session
    fixture: put it under ``@pytest.fixture``) that fills a cache shared between processes."""
    lock = Path(tempfile.gettempdir()) / f"patchwarden-tests-{fn.__module__}.{fn.__qualname__}.lock"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with file_lock(lock):
            return fn(*args, **kwargs)

    return wrapper
