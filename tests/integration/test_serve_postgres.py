"""The state store and ``serve`` on a real PostgreSQL server started by this test module
(Debian's postgresql, loopback, throwaway): migrations, leases under concurrency, and two
``serve`` processes sharing one database never running a job twice or at once."""

from __future__ import annotations

import concurrent.futures
import itertools
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from patchwarden.devtools.postgres_server import PostgresServer
from patchwarden.devtools.registry_server import RegistryServer, free_port
from patchwarden.devtools.skopeo import Pusher
from patchwarden.store import migrate as store_migrate
from patchwarden.store import open_store
from patchwarden.store.jobs import JobStore
from patchwarden.store.orm import Base
from testkit.serve_env import ServeProcess, wait_until

pytestmark = pytest.mark.integration
ADMIN = "pw-pg-admin-" + "1" * 32


def test_migrations_on_postgresql(pg: PostgresServer) -> None:
    with open_store(pg.url) as store:
        assert store_migrate.current_revision(store.engine) == store_migrate.head_revision()
        tables = set(inspect(store.engine).get_table_names())
        assert {"updates", "jobs", "job_runs", "fleet", "pending_updates", "api_tokens"} <= tables
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
    with open_store(pg.url):  # a second open is a no-op
        pass


def test_leases_race_across_connections(pg: PostgresServer) -> None:
    engines = [create_engine(pg.url) for _ in range(6)]
    try:
        stores = [JobStore(e) for e in engines]
        stores[0].acquire("race-warmup", "w", timedelta(seconds=1))  # the row exists
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            wins = list(
                pool.map(
                    lambda i: stores[i].acquire("race", f"o{i}", timedelta(minutes=1)), range(6)
                )
            )
        assert wins.count(True) == 1
        due = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            claims = list(pool.map(lambda i: stores[i].claim_due("race", due), range(6)))
        assert claims.count(True) == 1
    finally:
        for e in engines:
            e.dispose()


def _intervals(runs: list[dict[str, Any]]) -> list[tuple[datetime, datetime]]:
    return sorted(
        (datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"]))
        for r in runs
        if r["finished_at"]
    )


def test_two_serve_processes_share_one_database(
    pg: PostgresServer, plain_registry: RegistryServer, tmp_path: Path
) -> None:
    Pusher(tmp_path / "layouts").image(plain_registry, "pg/app", "1.0", salt="pg")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text(f"FROM {plain_registry.host}/pg/app:1.0\n")
    (repo / "patchwarden.yaml").write_text(
        f"registries:\n  '{plain_registry.host}':\n    insecure: true\n"
        "serve:\n  jobs:\n    check:\n      cron: '* * * * *'\n"
    )
    env = {"PATCHWARDEN_API_TOKEN": ADMIN}
    procs = [
        ServeProcess([".", "--state", pg.url], env, repo, free_port()).start() for _ in range(2)
    ]
    admin = {"Authorization": f"Bearer {ADMIN}"}
    try:
        # both schedulers see every minute's due time; exactly one of them may run it
        first = wait_until(
            "a scheduled run",
            lambda: [
                r
                for r in httpx.get(f"{procs[0].url}/api/v1/jobs", headers=admin).json()["runs"]
                if r["trigger"].startswith("schedule") and r["finished_at"]
            ],
            75,
        )
        # meanwhile, requests to both processes at once: they queue behind the lease
        for p in procs * 2:
            assert httpx.post(f"{p.url}/api/v1/jobs/check/run", headers=admin).status_code == 202

        seen: dict[str, Any] = {"runs": None, "since": 0.0}

        def settled() -> list[dict[str, Any]] | None:
            # a request still queued behind the other process's lease starts within the
            # runner's 1 s retry: the runs must stay unchanged, all finished, for longer than that
            runs = httpx.get(f"{procs[1].url}/api/v1/jobs", headers=admin).json()["runs"]
            done = (
                all(r["finished_at"] for r in runs)
                and len(runs) >= 3
                and len({r["owner"] for r in runs}) == 2  # each process ran its own request
            )
            if not done or runs != seen["runs"]:
                seen.update(runs=runs, since=time.monotonic())
                return None
            return runs if time.monotonic() - seen["since"] >= 2.5 else None

        runs = wait_until("the requested runs, by both processes", settled, 90)
    finally:
        codes = [p.stop(signal.SIGTERM) for p in procs]
    assert codes == [0, 0]
    sched = [r["trigger"] for r in runs if r["trigger"].startswith("schedule")]
    assert len(sched) == len(set(sched)), f"a scheduled occurrence ran twice: {sched}"
    failed = [(r["trigger"], r["detail"]) for r in runs if r["outcome"] != "succeeded"]
    assert first and not failed, failed
    spans = _intervals(runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two check runs overlapped: {spans}"
    assert len({r["owner"] for r in runs}) == 2  # both processes ran the job, never together
