"""Work done once on a real worker fleet: scan results keyed by image digest and advisory index
version, and side effects guarded by the ledger of the state store. Two
``patchwarden worker`` processes, Redis (Debian's redis-server) as the broker, PostgreSQL as
the state store, the CNCF registry behind a counting proxy, skopeo pushing the image, real
advisory records (tests/fixtures/osv) in an index serve publishes and each worker installs
into its own file. Nothing is faked.

One image (dpkg status + os-release) is referenced from four repositories and twelve
Dockerfile lines: the scan tasks of the four repositories run side by side on the two
workers, and the image is catalogued once (its layer blob is read once at the registry). A
new advisory index version makes the next scans re-match the stored packages: not one
registry request, the new vulnerability found and alerted once.

An update job whose worker is SIGKILLed while it opens its second pull request is
re-delivered to the other worker, which opens no pull request again and pushes nothing again
(the forge is the stand-in of testkit/fake_forge.py: no forge server can run here; git
remotes are real bare repositories)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
from patchwarden.store.effects import EffectLedger
from patchwarden.store.tasks import TaskState, TaskStore
from testkit.fake_forge import FakeForge, Reply
from testkit.fleet import WorkerProcess, redis_or_fail
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


class SlowCreateForge(FakeForge):
    """Records a new merge request at once, then answers the creating request only after
    ``hold`` seconds: the worker that asked can be killed before it hears back."""

    hold = 60.0

    def handle(self, method: str, raw: str, headers: dict[str, str], data: bytes) -> Reply:
        reply = super().handle(method, raw, headers, data)
        if method == "POST" and raw.endswith("/merge_requests") and len(self.prs) >= 2:
            time.sleep(self.hold)
        return reply


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def test_a_redelivered_update_job_opens_no_pull_request_twice(
    tmp_path: Path,
    plain_registry: RegistryServer,
    pusher: Pusher,
    redis_server: RedisServer,
    pg: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis

    from patchwarden.config.loader import load_config
    from patchwarden.service.process import Service

    redis.Redis.from_url(redis_server.url).flushall()
    for name in ("once/web", "once/api"):
        for tag in ("1.0.0", "1.1.0"):
            pusher.image(plain_registry, name, tag, salt=f"once-{name}-{tag}")
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    work.mkdir()
    _git(tmp_path, "init", "--bare", "-q", "-b", "main", str(remote))
    _git(work, "init", "-q", "-b", "main")
    _git(work, "remote", "add", "origin", str(remote))
    (work / "Dockerfile").write_text(
        f"FROM {plain_registry.host}/once/web:1.0.0\nFROM {plain_registry.host}/once/api:1.0.0\n"
    )
    _git(work, "add", ".")
    _git(work, "commit", "-qm", "init")
    _git(work, "push", "-q", "origin", "main")
    forge = SlowCreateForge("gitlab", repo="acme/app")
    cfg_file = tmp_path / "patchwarden.yaml"
    cfg_file.write_text(
        f"registries:\n  '{plain_registry.host}':\n    insecure: true\n"
        "serve:\n  jobs:\n    update:\n      cron: '0 0 1 1 *'\n      params:\n"
        "        forge: gitlab\n        forge_url: https://gitlab.example.com/acme/app\n"
        f"        forge_api: {forge.api_url}\n"
        "queue:\n  visibility_timeout: 3s\n  retry_backoff: 1s\n"
    )
    state = _database(pg)
    env = {
        "PATCHWARDEN_BROKER_URL": redis_server.url,
        "PATCHWARDEN_STATE_URL": state,
        "GITLAB_TOKEN": forge.token,
    }
    workers = [
        WorkerProcess([".", "-c", str(cfg_file)], env, work, f"u{i}").start() for i in range(2)
    ]
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    svc = Service(load_config(cfg_file), [work], state=state, env=env)
    tasks = TaskStore(svc.store.engine)
    try:
        tid = str(svc.runner.submit("update", Trigger("api", "update")))
        wait_until("the second merge request", lambda: len(forge.prs) == 2, 120)
        running = tasks.get(tid)
        assert running is not None and running.state == TaskState.RUNNING
        owner = running.owner or ""
        victim = next(w for w in workers if w.owns(int(owner.split(":")[1])))
        victim.kill()  # SIGKILL while the forge has not answered yet
        seen = len(forge.requests)
        forge.hold = 0.0

        def ended() -> bool:
            t = tasks.get(tid)
            return t is not None and t.state in (TaskState.SUCCEEDED, TaskState.DEAD)

        wait_until("the re-delivered update job", ended, 120)
        task = tasks.get(tid)
        assert task is not None and task.state == TaskState.SUCCEEDED, task
        assert task.attempts == 2
        assert len(forge.prs) == 2  # each merge request opened once
        after = forge.requests[seen:]
        assert not [r for r in after if not r.startswith("GET ")], after  # nothing written
        # the first group is recorded done: its merge request is not even looked up again
        first = sorted(forge.prs.values(), key=lambda p: p.number)[0].head
        assert not [r for r in after if quote(first, safe="") in r], after
        assert len([r for r in after if "merge_requests?" in r]) == 1  # the one in doubt
        heads = _git(tmp_path, "--git-dir", str(remote), "branch", "--list", "patchwarden/*")
        assert len(heads.split()) == 2
        done = EffectLedger(svc.store.engine)
        keys = [k for k in _effect_keys(svc) if k.startswith("pull-request:")]
        assert len(keys) == 2 and all(done.get(k).state == "done" for k in keys)  # type: ignore[union-attr]
    finally:
        forge.hold = 0.0
        for w in workers:
            w.stop()
        forge.stop()
        svc.store.close()


def _effect_keys(svc: Any) -> list[str]:
    from sqlalchemy import select

    from patchwarden.store.orm import EffectRow

    with svc.store.engine.connect() as c:
        return [str(k) for k in c.execute(select(EffectRow.key)).scalars()]
