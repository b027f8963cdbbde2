"""``patchwarden worker`` fleets on real servers started here: Redis (Debian's redis-server)
as the Celery broker and for the shared token bucket, PostgreSQL as the state store, the CNCF
registry behind a counting proxy, and Apprise delivering alerts over HTTP to a receiver on
loopback (the side effect counted). Nothing is faked: the only stand-in is the alert
receiver, which is any HTTP endpoint Apprise's json:// posts to."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from patchwarden.config.schema import Config
from patchwarden.devtools.postgres_server import PostgresServer
from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.redis_server import RedisServer
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.service.runner import Trigger
from patchwarden.store import open_store
from patchwarden.store.orm import JobRunRow
from patchwarden.store.tasks import TaskState, TaskStore
from testkit.fleet import WorkerProcess
from testkit.receiver import WebhookSink
from testkit.serve_env import wait_until

pytestmark = pytest.mark.integration
REPOS = 4


@pytest.fixture(scope="module")
def images(plain_registry: RegistryServer, pusher: Pusher) -> list[str]:
    """fleet/appN at 1.0 and 1.1: every reference to 1.0 is outdated."""
    names = []
    for i in range(REPOS):
        for tag in ("1.0", "1.1"):
            pusher.image(plain_registry, f"fleet/app{i}", tag, salt=f"fleet-{i}-{tag}")
        names.append(f"fleet/app{i}")
    return names


class Fleet:
    """One database per test, a producer (the ``Service`` serve runs, without HTTP), workers."""

    def __init__(
        self, tmp: Path, pg: PostgresServer, redis: RedisServer, proxy: RegistryProxy, extra: str
    ) -> None:
        import psycopg

        self.db = f"t{os.getpid()}_{int(time.monotonic() * 1000) % 10**9}"
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {self.db}")
        self.state = pg.url.rsplit("/", 1)[0] + f"/{self.db}"
        self.redis = redis
        self.repo = tmp / "repo"
        self.repo.mkdir()
        for i in range(REPOS):
            d = self.repo / f"svc{i}"
            d.mkdir()
            (d / "Dockerfile").write_text(f"FROM {proxy.host}/fleet/app{i}:1.0\n")
        self.config_file = self.repo / "patchwarden.yaml"
        self.config_file.write_text(
            f"registries:\n  '{proxy.host}':\n    insecure: true\n"
            "concurrency: 1\n"
            "serve:\n  notify:\n    - url_env: PW_ALERTS\n      events: [update-available]\n"
            "queue:\n  visibility_timeout: 3s\n  retry_backoff: 1s\n" + extra
        )
        self.workers: list[WorkerProcess] = []
        open_store(self.state).close()
        self.engine = create_engine(self.state)
        self.tasks = TaskStore(self.engine)

    def env(self, alerts: str) -> dict[str, str]:
        return {
            "PATCHWARDEN_BROKER_URL": self.redis.url,
            "PATCHWARDEN_STATE_URL": self.state,
            "PW_ALERTS": alerts,
        }

    def start_workers(self, n: int, alerts: str) -> None:
        for i in range(n):
            w = WorkerProcess(
                [".", "-c", str(self.config_file)], self.env(alerts), self.repo, f"w{i}"
            )
            self.workers.append(w.start())

    def producer(self, alerts: str, monkeypatch: pytest.MonkeyPatch) -> Any:
        from patchwarden.config.loader import load_config
        from patchwarden.service.process import Service

        for k, v in self.env(alerts).items():
            monkeypatch.setenv(k, v)
        cfg: Config = load_config(self.config_file)
        return Service(cfg, [self.repo], env=self.env(alerts))

    def wait_all(self, ids: list[str], timeout: float = 120) -> None:
        def done() -> bool:
            for w in self.workers:
                assert w.proc is not None
                if w.proc.poll() is not None and w.proc.returncode not in (0, -9):
                    raise AssertionError(f"worker {w.name} exited: {w.log_text()[-3000:]}")
            states = [t.state if (t := self.tasks.get(i)) else None for i in ids]
            return all(s in (TaskState.SUCCEEDED, TaskState.DEAD) for s in states)

        try:
            wait_until("every task to end", done, timeout)
        except AssertionError:
            logs = "\n".join(w.log_text()[-2000:] for w in self.workers)
            raise AssertionError(f"tasks: {[self.tasks.get(i) for i in ids]}\n{logs}") from None

    def runs(self, outcome: str | None = None) -> int:
        stmt = select(func.count()).select_from(JobRunRow)
        if outcome is not None:
            stmt = stmt.where(JobRunRow.outcome == outcome)
        with self.engine.connect() as c:
            return int(c.execute(stmt).scalar_one())

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.engine.dispose()


@pytest.fixture()
def fleet_factory(
    tmp_path: Path, pg: PostgresServer, redis_server: RedisServer, proxy: RegistryProxy
) -> Iterator[Any]:
    made: list[Fleet] = []

    def make(extra: str = "") -> Fleet:
        f = Fleet(tmp_path, pg, redis_server, proxy, extra)
        made.append(f)
        return f

    redis_server_flush(redis_server)
    yield make
    for f in made:
        f.close()


def redis_server_flush(server: RedisServer) -> None:
    import redis

    redis.Redis.from_url(server.url).flushall()


def _per_repo_triggers(host: str) -> list[Trigger]:
    return [
        Trigger("hook", f"fleet/app{i}", frozenset({f"{host}/fleet/app{i}"})) for i in range(REPOS)
    ]


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_workers_run_every_task_once(
    workers: int,
    fleet_factory: Any,
    proxy: RegistryProxy,
    images: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy.delay = 0.05
    with WebhookSink() as sink:
        fleet = fleet_factory()
        fleet.start_workers(workers, sink.apprise_url())
        svc = fleet.producer(sink.apprise_url(), monkeypatch)
        # one task per repository (as registry webhooks ask), of a job whose handler is the
        # very CheckJob serve runs in process
        ids = [svc.runner.submit("check", t) for t in _per_repo_triggers(proxy.host)]
        assert len(set(ids)) == REPOS
        fleet.wait_all(ids)
        tasks = [fleet.tasks.get(i) for i in ids]
        assert [t.state for t in tasks] == [TaskState.SUCCEEDED] * REPOS, tasks
        assert [t.attempts for t in tasks] == [1] * REPOS
        assert fleet.runs() == REPOS == fleet.runs("succeeded")
        items = svc.fleet.fleet()
        assert items, [t.detail for t in tasks]
        assert sorted(i.repository for i in items) == sorted(
            f"{proxy.host}/fleet/app{i}" for i in range(REPOS)
        )
        assert {i.status for i in items} == {"outdated"}
        wait_until("the alerts", lambda: len(sink.bodies) >= REPOS, 30)
        time.sleep(0.5)
        assert len(sink.bodies) == REPOS  # one alert per outdated reference
        owners = {t.owner for t in tasks}
        if workers == 1:
            assert len(owners) == 1
        svc.store.close()


def test_killed_worker_job_is_redelivered_and_finishes_once(
    fleet_factory: Any,
    proxy: RegistryProxy,
    images: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy.delay = 0.3  # a slow registry: the check runs for seconds
    with WebhookSink() as sink:
        fleet = fleet_factory()
        fleet.start_workers(2, sink.apprise_url())
        svc = fleet.producer(sink.apprise_url(), monkeypatch)
        repos = frozenset(f"{proxy.host}/fleet/app{i}" for i in range(REPOS))
        tid = svc.runner.submit("check", Trigger("api", "every repository", repos))
        running = wait_until(
            "the task running",
            lambda: (t := fleet.tasks.get(tid)) and t.state == TaskState.RUNNING and t,
            60,
        )
        before = len(proxy.times)
        wait_until("the job talking to the registry", lambda: len(proxy.times) >= before + 2, 30)
        pid = int(running.owner.split(":")[1])
        victim = next(w for w in fleet.workers if w.owns(pid))
        victim.kill()  # SIGKILL, main process and pool: nothing gets to clean up
        assert fleet.tasks.get(tid).state == TaskState.RUNNING
        fleet.wait_all([tid], 120)
        task = fleet.tasks.get(tid)
        assert task.state == TaskState.SUCCEEDED, task
        assert task.attempts == 2
        assert not victim.owns(int(task.owner.split(":")[1]))
        assert fleet.runs("succeeded") == 1
        assert fleet.runs("interrupted") == 1  # the killed run is closed, not left "running"
        wait_until("the alerts", lambda: len(sink.bodies) >= REPOS, 30)
        # the same message delivered again (an at-least-once broker may): acknowledged,
        # nothing runs; a new check of the same fleet: no alert repeats
        svc.runner.send(tid)
        tid2 = svc.runner.submit("check", Trigger("api", "again", repos))
        fleet.wait_all([tid2])
        time.sleep(1.0)
        assert fleet.runs("succeeded") == 2
        assert fleet.tasks.get(tid).attempts == 2
        titles = [b.get("title") for b in sink.bodies]
        assert len(titles) == REPOS, titles  # each change announced exactly once
        svc.store.close()


def test_token_bucket_holds_the_fleet_to_the_rate(
    fleet_factory: Any,
    proxy: RegistryProxy,
    images: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rate, burst = 8, 4
    # the registry refuses more than 8 requests in any 0.5 s (twice the bucket's size)
    proxy.limit_window(burst * 2, 0.5, retry_after="1")
    with WebhookSink() as sink:
        fleet = fleet_factory(
            f"  rate_limits:\n    '{proxy.host}':\n      requests: {rate}\n      per: 1s\n"
            f"      burst: {burst}\n"
        )
        fleet.start_workers(3, sink.apprise_url())
        svc = fleet.producer(sink.apprise_url(), monkeypatch)
        proxy.times.clear()
        # 12 tasks of different scopes (none merges into another): ~50 registry requests
        repos = [f"{proxy.host}/fleet/app{i}" for i in range(REPOS)]
        scopes = [
            frozenset(repos[(i + k) % REPOS] for k in range(size))
            for size in (1, 2, 3)
            for i in range(REPOS)
        ]
        ids = [svc.runner.submit("check", Trigger("hook", "", s)) for s in scopes]
        assert len(set(ids)) == len(scopes)
        fleet.wait_all(ids)
        assert {fleet.tasks.get(i).state for i in ids} == {TaskState.SUCCEEDED}
        times = sorted(proxy.times)
        assert len(times) >= 40
        # counted at the server: no window of W seconds saw more than burst + rate * W
        for w in (0.5, 1.0, 2.0):
            worst = max(sum(1 for t in times[i:] if t - start < w) for i, start in enumerate(times))
            assert worst <= burst + rate * w + 1, (w, worst, len(times))
        assert proxy.rejected == 0
        svc.store.close()


def test_a_429_holds_back_every_worker(redis_server: RedisServer) -> None:
    import redis

    from patchwarden.queue.ratelimit import RedisTokenBucket

    redis_server_flush(redis_server)
    a = RedisTokenBucket(redis.Redis.from_url(redis_server.url), {})
    b = RedisTokenBucket(redis.Redis.from_url(redis_server.url), {})
    assert b.wait_time("registry.example") == 0.0
    a.throttled("registry.example", 2.0)  # one process saw Retry-After: 2
    assert 1.5 < b.wait_time("registry.example") <= 2.0  # another one waits too
    assert b.wait_time("other.example") == 0.0
    # the bucket itself: 5 tokens, 10 per second, shared by both clients
    a.limits["h"] = b.limits["h"] = (10.0, 5)
    waits = [c.wait_time("h") for c in itertools.islice(itertools.cycle((a, b)), 6)]
    assert waits[:5] == [0.0] * 5 and 0 < waits[5] <= 0.1


def test_a_whole_fleet_check_is_split_per_repository_and_prunes_gone_references(
    fleet_factory: Any,
    proxy: RegistryProxy,
    images: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with WebhookSink() as sink:
        fleet = fleet_factory("  shard_size: 1\n")
        fleet.start_workers(2, sink.apprise_url())
        svc = fleet.producer(sink.apprise_url(), monkeypatch)

        def whole_check() -> list[Any]:
            before = {t.id for t in fleet.tasks.list(limit=1000)}
            tid = svc.runner.submit("check", Trigger("schedule", "due"))
            fleet.wait_all([tid])
            parts = [t for t in fleet.tasks.list(limit=1000) if t.id not in before | {tid}]
            fleet.wait_all([t.id for t in parts])
            summary = fleet.tasks.get(tid).detail
            return [summary, *[fleet.tasks.get(t.id) for t in parts]]

        summary, *parts = whole_check()
        assert summary.startswith(f"{REPOS} references in {REPOS} repositories: {REPOS} check")
        assert len(parts) == REPOS
        assert {p.state for p in parts} == {TaskState.SUCCEEDED}
        assert sorted(tuple(p.trigger["repositories"]) for p in parts) == [
            (f"{proxy.host}/fleet/app{i}",) for i in range(REPOS)
        ]
        assert len(svc.fleet.fleet()) == REPOS
        (fleet.repo / "svc3" / "Dockerfile").unlink()
        summary, *parts = whole_check()
        assert "1 gone references dropped" in summary and len(parts) == REPOS - 1
        assert sorted(i.repository for i in svc.fleet.fleet()) == [
            f"{proxy.host}/fleet/app{i}" for i in range(REPOS - 1)
        ]
        svc.store.close()
