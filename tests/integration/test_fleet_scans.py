"""Scan results keyed by image digest and advisory index version, on a real worker fleet: two
``patchwarden worker`` processes, Redis (Debian's redis-server) as the broker, PostgreSQL as
the state store, the CNCF registry behind a counting proxy, skopeo pushing the image, real
advisory records (tests/fixtures/osv) in an index serve publishes and each worker installs
into its own file. Nothing is faked.

One image (dpkg status + os-release) is referenced from four repositories and twelve
Dockerfile lines: the scan tasks of the four repositories run side by side on the two
workers, and the image is catalogued once (its layer blob is read once at the registry). A
new advisory index version makes the next scans re-match the stored packages: not one
registry request, the new vulnerability found and alerted once."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.devtools.postgres_server import PostgresServer
from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.redis_server import RedisServer
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.seed import Seeder
from patchwarden.devtools.skopeo import Pusher
from patchwarden.service.runner import Trigger
from patchwarden.store import open_store
from patchwarden.store.tasks import TaskState, TaskStore
from testkit.fleet import WorkerProcess, postgres_or_fail, redis_or_fail
from testkit.receiver import WebhookSink
from testkit.serve_env import wait_until

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osv"
LATE = "DSA-5330-1"  # curl < 7.74.0-1.3+deb11u5: in the second index version only
STATUS = (
    b"Package: curl\nStatus: install ok installed\nVersion: 7.74.0-1.3+deb11u2\n"
    b"Architecture: amd64\n\n"
)
OS_RELEASE = b'ID=debian\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\n'
REPOS = [f"scans/app{i}" for i in range(4)]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with redis_or_fail() as server:
        yield server


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_or_fail() as server:
        yield server


def _database(pg: PostgresServer) -> str:
    import psycopg

    name = f"scans{os.getpid()}_{int(time.monotonic() * 1000) % 10**9}"
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", autocommit=True
    ) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + f"/{name}"


def _publish(index_path: Path, state: str) -> str | None:
    from patchwarden.app.fleet import IndexSync
    from patchwarden.store.shared import SharedContent

    engine = create_engine(state)
    try:
        return IndexSync(SharedContent(engine, "advisory-index", 1 << 30)).publish(index_path)
    finally:
        engine.dispose()


def test_an_image_is_catalogued_once_fleet_wide_and_rematched_per_index_version(
    tmp_path: Path,
    plain_registry: RegistryServer,
    pusher: Pusher,
    proxy: RegistryProxy,
    redis_server: RedisServer,
    pg: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis

    from patchwarden.config.loader import load_config
    from patchwarden.service.process import Service

    redis.Redis.from_url(redis_server.url).flushall()
    files = {"var/lib/dpkg/status": STATUS, "etc/os-release": OS_RELEASE}
    digest = pusher.image(plain_registry, REPOS[0], "1", files=files, salt="fleet-scans")
    with Seeder(plain_registry.host) as s:
        doc = json.loads(s.get_manifest(REPOS[0], "1")[0])
        blobs = [doc["config"]["digest"], *(ly["digest"] for ly in doc["layers"])]
        for name in REPOS[1:]:  # the same image (same digest) in three more repositories
            s.copy_repo(REPOS[0], "1", name, ["1"], blobs)
    layers = len(doc["layers"])

    early = tmp_path / "osv-early"
    shutil.copytree(FIXTURES / "Debian", early / "Debian")
    (early / "Debian" / f"{LATE}.json").unlink()
    index_path = tmp_path / "serve-index.db"
    with AdvisoryIndex(index_path, create=True) as index:
        assert import_sources(index, [str(early)]).added

    repo = tmp_path / "repo"
    for n in range(3):
        d = repo / f"svc{n}"
        d.mkdir(parents=True)
        (d / "Dockerfile").write_text(
            "".join(f"FROM {proxy.host}/{r}:1 AS s{i}\n" for i, r in enumerate(REPOS))
        )
    cfg_file = repo / "patchwarden.yaml"
    cfg_file.write_text(
        f"registries:\n  '{proxy.host}':\n    insecure: true\n"
        "serve:\n  alert_severity: unknown\n"
        "  notify:\n    - url_env: PW_ALERTS\n      events: [new-vulnerability]\n"
        "queue:\n  visibility_timeout: 5s\n  retry_backoff: 1s\n"
    )
    state = _database(pg)
    open_store(state).close()
    assert _publish(index_path, state)
    with WebhookSink() as sink:
        env = {
            "PATCHWARDEN_BROKER_URL": redis_server.url,
            "PATCHWARDEN_STATE_URL": state,
            "PW_ALERTS": sink.apprise_url(),
        }
        workers = []
        for i in range(2):  # each worker: its own index file and its own local caches
            own = {
                **env,
                "PATCHWARDEN_ADVISORY_DB": str(tmp_path / f"w{i}" / "index.db"),
                "XDG_CACHE_HOME": str(tmp_path / f"w{i}" / "cache"),
            }
            workers.append(WorkerProcess([".", "-c", str(cfg_file)], own, repo, f"s{i}").start())
        for k, v in {**env, "PATCHWARDEN_ADVISORY_DB": str(index_path)}.items():
            monkeypatch.setenv(k, v)
        svc = Service(load_config(cfg_file), [repo], state=state, env=env)
        tasks = TaskStore(svc.store.engine)

        def run(job: str) -> list[Any]:
            hosts = [f"{proxy.host}/{r}" for r in REPOS]
            ids = [str(svc.runner.submit(job, Trigger("hook", h, frozenset({h})))) for h in hosts]

            def ended() -> bool:
                for w in workers:
                    assert w.proc is not None and w.proc.poll() is None, w.log_text()[-3000:]
                got = [tasks.get(i) for i in ids]
                return all(t and t.state in (TaskState.SUCCEEDED, TaskState.DEAD) for t in got)

            wait_until(f"the {job} tasks", ended, 120)
            done = [tasks.get(i) for i in ids]
            assert {t.state for t in done if t} == {TaskState.SUCCEEDED}, done
            return done

        try:
            run("check")
            items = svc.fleet.fleet()
            assert len(items) == 3 * len(REPOS) and {i.current_digest for i in items} == {digest}

            proxy.delay = 0.2  # a remote registry: the four scan tasks overlap on two workers
            proxy.counts.clear()
            first = run("scan")
            assert proxy.count("GET", "blobs") == layers + 1  # config + layer: catalogued once
            scanned = [t.detail for t in first if t.detail.startswith("1 images scanned")]
            assert len(scanned) == 1, [t.detail for t in first]
            assert len({t.owner.split(":")[1] for t in first}) == 2  # both workers took tasks
            (sbom,) = svc.sboms.get_many([digest])
            assert sbom.findings is not None and LATE not in sbom.findings
            v1 = sbom.index_version
            assert v1

            with AdvisoryIndex(index_path) as index:  # `db update` where serve runs
                assert import_sources(index, [str(FIXTURES / "Debian" / f"{LATE}.json")]).added
            assert _publish(index_path, state)
            proxy.counts.clear()
            second = run("scan")
            assert sum(proxy.counts.values()) == 0  # re-matched: not one registry request
            assert any("re-matched" in t.detail for t in second), [t.detail for t in second]
            (sbom,) = svc.sboms.get_many([digest])
            assert sbom.index_version not in (None, v1)
            assert LATE in (sbom.findings or {}) and LATE in (sbom.new_findings or {})
            wait_until("the new-vulnerability alert", lambda: sink.bodies, 30)
            time.sleep(0.5)
            assert len(sink.bodies) == 1  # four tasks on two workers: one alert

            proxy.counts.clear()
            third = run("scan")  # the same version: every result reused as it is
            assert sum(proxy.counts.values()) == 0
            assert all(t.detail.startswith("0 images scanned, 1 already stored") for t in third)

            # serve's /metrics: what the workers did, read from the task records
            text = svc.metrics.render().decode()
            assert 'patchwarden_tasks{job="scan",state="succeeded"} 12.0' in text
            assert 'patchwarden_tasks{job="check",state="succeeded"} 4.0' in text
            assert 'patchwarden_tasks{job="scan",state="dead"} 0.0' in text
            assert 'patchwarden_fleet_job_runs_total{job="scan",outcome="succeeded"} 12.0' in text
        finally:
            for w in workers:
                w.stop()
            svc.store.close()


def test_readyz_reports_an_unreachable_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.testclient import TestClient

    from patchwarden.config.schema import Config
    from patchwarden.service.app import build_app
    from patchwarden.service.process import Service

    with redis_or_fail() as broker:  # its own Redis: this test stops it
        cfg = Config.model_validate({"queue": {"broker_url": broker.url}})
        (tmp_path / "repo").mkdir()
        svc = Service(cfg, [tmp_path / "repo"], state=str(tmp_path / "s.db"), env={})
        svc.started = True
        with TestClient(build_app(svc, manage=False), base_url="http://127.0.0.1") as c:
            r = c.get("/readyz")
            assert r.status_code == 200, r.text
            broker.stop()
            r = c.get("/readyz")
            assert r.status_code == 503
            (reason,) = r.json()["reasons"]
            assert reason.startswith("the broker (queue.broker_url) is unreachable: ")
            assert str(broker.port) in reason  # which broker, from redis' own error
        svc.store.close()
