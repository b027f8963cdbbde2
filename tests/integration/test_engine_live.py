"""Live updates against a real engine: Podman's Docker-compatible API and a real registry.

Images are tiny (static busybox + httpd) and built in the test session; the engine pulls them
from the session's loopback registry (insecure entry from scripts/install-podman.sh).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from patchwarden.app.check import Checker
from patchwarden.app.live import (
    LABEL_STATE,
    LABEL_UPDATE_OF,
    NEW_MARK,
    OLD_MARK,
    LiveUpdater,
    Probes,
    Selection,
    policy_candidates,
)
from patchwarden.app.wiring import build_checker
from patchwarden.cli.main import app
from patchwarden.config.schema import Config
from patchwarden.devtools.registry_server import RegistryServer, free_port
from patchwarden.engine.client import EngineClient
from patchwarden.store import Store, open_store
from testkit.podman import engine, engine_url, push_web_image

pytestmark = pytest.mark.integration
__all__ = ["engine", "engine_url"]  # fixtures (tests/integration/podman.py) used by name
Names = Callable[[str], str]  # a test's name -> a unique container name
STOP = 1  # busybox httpd as PID 1 ignores SIGTERM: do not wait 10 s per stop


@pytest.fixture()
def names(engine: EngineClient) -> Iterator[Names]:
    """Unique container names; every container whose name starts with one is removed after."""
    prefix = f"pwt-{uuid.uuid4().hex[:6]}"
    yield lambda n: f"{prefix}-{n}"
    for c in engine.api.containers(all=True):
        if any(n.lstrip("/").startswith(prefix) for n in c.get("Names") or []):
            engine.api.remove_container(c["Id"], force=True)
    for n in engine.api.networks():
        if str(n.get("Name", "")).startswith(prefix):
            engine.api.remove_network(n["Name"])


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web-layouts")


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return open_store(str(tmp_path / "state.db"))


def _checker(reg: RegistryServer) -> Checker:
    cfg = Config.model_validate({"registries": {reg.host: {"insecure": True}}})
    return build_checker(cfg, use_cache=False, concurrency=1)


def _run(
    engine: EngineClient, image: str, name: str, port: int, _pull: bool = True, **extra: Any
) -> str:
    """Pull ``image`` and start a container the way a user would (docker run -d -p ...)."""
    ref, _, tag = image.rpartition(":")
    if _pull:
        engine.api.pull(ref, tag=tag)
    host_config = {"PortBindings": {"8080/tcp": [{"HostIp": "", "HostPort": str(port)}]}}
    host_config.update(extra.pop("HostConfig", {}))
    body = {"Image": image, "HostConfig": host_config, **extra}
    cid = str(engine.api.create_container_from_config(body, name=name)["Id"])
    engine.api.start(cid)
    _wait_http(port)
    return cid


def _wait_http(port: int, path: str = "/version", timeout: float = 15.0) -> str:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            res = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
            if res.status_code == 200:
                return res.text
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing serves http://127.0.0.1:{port}{path}")
        time.sleep(0.2)


def _probes(port: int, **kw: Any) -> Probes:
    return Probes(
        http_url=f"http://127.0.0.1:{port}/health", grace=1.0, timeout=kw.pop("timeout", 6.0), **kw
    )


def _repo(tag: str) -> str:
    return f"web-{tag}-{uuid.uuid4().hex[:6]}"


def test_healthy_update_preserves_configuration(
    engine: EngineClient,
    plain_registry: RegistryServer,
    layouts: Path,
    names: Names,
    store: Store,
    tmp_path: Path,
) -> None:
    repo = _repo("ok")
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    name, port = names("web"), free_port()
    data = tmp_path / "data"
    data.mkdir()
    (data / "keep.txt").write_text("persisted")
    cmd = ["/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
    net = names("net")
    engine.api.create_network(net)
    old_id = _run(
        engine,
        f"{plain_registry.host}/{repo}:1.0.0",
        name,
        port,
        Cmd=cmd,
        Env=["APP_MODE=production", "GREETING=hello world"],
        Labels={"team": "payments", "patchwarden.enable": "true"},
        Hostname="webhost",
        WorkingDir="/www",
        HostConfig={
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "Binds": [f"{data}:/data:rw"],
            "Memory": 64 * 1024 * 1024,
            "NetworkMode": net,
        },
        NetworkingConfig={"EndpointsConfig": {net: {"Aliases": ["web", "frontend"]}}},
    )
    assert _wait_http(port) == "v1"

    updater = LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP)
    (res,) = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(name,)))

    assert res.outcome == "updated", res.reason
    assert (res.from_digest, res.to_digest) == (d1, d2)
    assert res.to_image == f"{plain_registry.host}/{repo}:1.0.1"
    assert _wait_http(port) == "v2"
    new = engine.inspect(name)
    assert new["Id"] != old_id
    assert not engine.exists(old_id), "the old container is removed after a healthy update"
    cfg, host = new["Config"], new["HostConfig"]
    assert cfg["Image"] == f"{plain_registry.host}/{repo}:1.0.1"
    assert cfg["Cmd"] == cmd
    assert "APP_MODE=production" in cfg["Env"] and "GREETING=hello world" in cfg["Env"]
    assert cfg["Labels"]["team"] == "payments"
    assert cfg["Labels"]["org.example.version"] == "v2", "image labels come from the new image"
    assert cfg["Labels"][LABEL_UPDATE_OF] == old_id
    assert cfg["Hostname"] == "webhost"
    assert cfg["WorkingDir"] == "/www"
    assert host["PortBindings"]["8080/tcp"][0]["HostPort"] == str(port)
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["Memory"] == 64 * 1024 * 1024
    aliases = new["NetworkSettings"]["Networks"][net]["Aliases"]
    assert {"web", "frontend"} <= set(aliases)
    mounts = {m["Destination"]: m for m in new["Mounts"]}
    assert mounts["/data"]["Source"] == str(data) and mounts["/data"]["RW"]
    # the old image stays (default retention: keep every image)
    assert engine.inspect_image(f"{plain_registry.host}/{repo}@{d1}")
    (rec,) = store.history(name)
    assert (rec.outcome, rec.action, rec.from_digest, rec.to_digest) == (
        "updated",
        "update",
        d1,
        d2,
    )
    assert rec.gates["ok"] is True and rec.gates["checks"]["http"].endswith("200")
    assert rec.duration_s is not None


def test_unhealthy_update_rolls_back_and_old_serves_again(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    repo = _repo("sick")
    d1 = push_web_image(layouts, plain_registry.host, repo, "2.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "2.0.1", version="v2", healthy=False)
    name, port = names("web"), free_port()
    old_id = _run(engine, f"{plain_registry.host}/{repo}:2.0.0", name, port, Env=["K=V"])

    updater = LiveUpdater(engine, store, probes=_probes(port, timeout=3.0), stop_timeout=STOP)
    (res,) = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(name,)))

    assert res.outcome == "rolled-back", res.reason
    assert "404" in res.reason and (res.from_digest, res.to_digest) == (d1, d2)
    assert engine.inspect(name)["Id"] == old_id
    assert engine.info(name).running
    assert _wait_http(port) == "v1"
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    leftovers = [c.name for c in engine.list_containers() if c.name.startswith(name + "-pw-")]
    assert leftovers == []
    (rec,) = store.history(name)
    assert rec.outcome == "rolled-back" and rec.gates["ok"] is False


def test_image_that_exits_at_once_is_rolled_back(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    repo = _repo("exit")
    push_web_image(layouts, plain_registry.host, repo, "3.0.0", version="v1")
    push_web_image(
        layouts, plain_registry.host, repo, "3.0.1", version="v2", cmd=["/bin/busybox", "false"]
    )
    name, port = names("web"), free_port()
    old_id = _run(engine, f"{plain_registry.host}/{repo}:3.0.0", name, port)

    updater = LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP)
    (res,) = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(name,)))

    assert res.outcome == "rolled-back", res.reason
    assert "not running" in res.reason
    assert engine.inspect(name)["Id"] == old_id
    assert _wait_http(port) == "v1"


def test_pull_that_fails_leaves_the_container_untouched(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    repo = _repo("pull")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    name, port = names("web"), free_port()
    old_id = _run(engine, f"{plain_registry.host}/{repo}:1.0.0", name, port)
    missing = "sha256:" + "0" * 64

    updater = LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP)
    res = updater.rollback(name, missing)

    assert res.outcome == "failed" and "untouched" in res.reason
    assert engine.inspect(name)["Id"] == old_id and engine.info(name).running
    assert store.history(name)[0].outcome == "failed"


def test_monitor_only_reports_and_changes_nothing(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    repo = _repo("mon")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.1.0", version="v2")
    name, port = names("web"), free_port()
    old_id = _run(engine, f"{plain_registry.host}/{repo}:1.0.0", name, port)

    updater = LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP)
    (res,) = updater.update(
        policy_candidates(_checker(plain_registry)), Selection(names=(name,)), monitor_only=True
    )

    assert res.outcome == "available" and res.reason.startswith("monitor only")
    assert res.to_digest == d2 and res.to_image.endswith(":1.1.0")
    assert engine.inspect(name)["Id"] == old_id
    assert _wait_http(port) == "v1"
    assert store.history(name) == []


def test_label_opt_out_opt_in_and_digest_pinned(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    repo = _repo("labels")
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    image = f"{plain_registry.host}/{repo}:1.0.0"
    out_name, plain_name, pinned = names("optout"), names("plain"), names("pinned")
    out_id = _run(engine, image, out_name, free_port(), Labels={"patchwarden.enable": "false"})
    plain_id = _run(engine, image, plain_name, free_port())
    engine.api.pull(f"{plain_registry.host}/{repo}@{d1}")
    pin_port = free_port()
    pin_id = str(
        engine.api.create_container_from_config(
            {
                "Image": f"{plain_registry.host}/{repo}@{d1}",
                "HostConfig": {"PortBindings": {"8080/tcp": [{"HostPort": str(pin_port)}]}},
            },
            name=pinned,
        )["Id"]
    )
    engine.api.start(pin_id)

    updater = LiveUpdater(engine, store, probes=Probes(grace=0.5, timeout=5), stop_timeout=STOP)
    checker = _checker(plain_registry)
    # opt-in mode: only containers labelled patchwarden.enable=true; none here, so the plain
    # one is not even listed; the opt-out one is reported as skipped
    results = {
        r.container: r
        for r in updater.update(policy_candidates(checker), Selection(opt_in=True))
        if r.container in (out_name, plain_name, pinned)
    }
    assert set(results) == {out_name}
    assert results[out_name].outcome == "skipped" and "enable=false" in results[out_name].reason

    # all containers: opt-out skipped, digest-pinned reported, the plain one updated
    results = {
        r.container: r
        for r in updater.update(
            policy_candidates(checker), Selection(names=(out_name, plain_name, pinned))
        )
    }
    assert results[out_name].outcome == "skipped"
    assert results[pinned].outcome == "skipped" and "digest" in results[pinned].reason
    assert results[plain_name].outcome == "updated", results[plain_name].reason
    assert engine.inspect(out_name)["Id"] == out_id
    assert engine.inspect(pinned)["Id"] == pin_id
    assert engine.inspect(plain_name)["Id"] != plain_id


def test_engine_rollback_and_history_cli(
    engine: EngineClient,
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    names: Names,
    tmp_path: Path,
) -> None:
    repo = _repo("rb")
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    name, port = names("web"), free_port()
    _run(engine, f"{plain_registry.host}/{repo}:1.0.0", name, port)
    (tmp_path / "patchwarden.yaml").write_text(
        f"registries:\n  '{plain_registry.host}':\n    insecure: true\n"
    )
    state = str(tmp_path / "state.db")
    common = ["--engine", engine_url, "--state", state, "--format", "json"]
    probe = [
        "--probe-http",
        f"http://127.0.0.1:{port}/health",
        "--grace",
        "1",
        "--stop-timeout",
        "1",
    ]
    runner = CliRunner()
    config = ["--config", str(tmp_path / "patchwarden.yaml")]

    # --monitor-only: outcome "available" and exit 1, so a scheduled job can alert on it
    mon = runner.invoke(
        app, ["engine", "update", name, *common, "--monitor-only", "--no-cache", *config]
    )
    assert mon.exit_code == 1, mon.output
    (r,) = json.loads(mon.stdout)["results"]
    assert (r["outcome"], r["to_digest"]) == ("available", d2)

    up = runner.invoke(
        app,
        [
            "engine",
            "update",
            name,
            *common,
            *probe,
            "--no-cache",
            "--config",
            str(tmp_path / "patchwarden.yaml"),
        ],
    )
    assert up.exit_code == 0, up.output
    (r,) = json.loads(up.stdout)["results"]
    assert r == {
        "container": name,
        "from_image": f"{plain_registry.host}/{repo}:1.0.0",
        "from_digest": d1,
        "to_image": f"{plain_registry.host}/{repo}:1.0.1",
        "to_digest": d2,
        "outcome": "updated",
        "reason": r["reason"],
    }
    assert _wait_http(port) == "v2"

    rb = runner.invoke(app, ["engine", "rollback", name, *common, *probe])
    assert rb.exit_code == 0, rb.output
    (r,) = json.loads(rb.stdout)["results"]
    assert (r["outcome"], r["from_digest"], r["to_digest"]) == ("reverted", d2, d1)
    assert r["to_image"] == f"{plain_registry.host}/{repo}:1.0.0"
    assert _wait_http(port) == "v1"
    assert engine.info(name).digest == d1

    hist = runner.invoke(app, ["engine", "history", name, "--state", state, "--format", "json"])
    assert hist.exit_code == 0, hist.output
    records = json.loads(hist.stdout)["records"]
    assert [(x["action"], x["outcome"]) for x in records] == [
        ("rollback", "reverted"),
        ("update", "updated"),
    ]

    # a malformed digest is refused before the engine is asked, and nothing is recorded
    bad = runner.invoke(app, ["engine", "rollback", name, *common, "--to", "sha256:deadbeef"])
    assert bad.exit_code == 2, bad.output
    assert "invalid sha256 digest" in bad.output
    again = runner.invoke(app, ["engine", "history", name, "--state", state, "-f", "json"])
    assert len(json.loads(again.stdout)["records"]) == 2

    # reading a history that does not exist creates nothing
    missing = tmp_path / "missing" / "dir" / "x.db"
    none = runner.invoke(app, ["engine", "history", "--state", str(missing), "-f", "json"])
    assert none.exit_code == 0, none.output
    assert json.loads(none.stdout) == {"records": []}
    assert not (tmp_path / "missing").exists()


def test_engine_update_sees_a_tag_pushed_after_the_last_run(
    engine: EngineClient,
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    names: Names,
    tmp_path: Path,
) -> None:
    """Tag lists are cached on disk for `check` (cache.tag_ttl), but a live updater lists
    tags afresh on every run: no `--no-cache` needed to see a tag pushed a minute ago."""
    repo = _repo("fresh")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    name, port = names("web"), free_port()
    _run(engine, f"{plain_registry.host}/{repo}:1.0.0", name, port)
    cfg = tmp_path / "patchwarden.yaml"
    cfg.write_text(
        f"registries:\n  '{plain_registry.host}':\n    insecure: true\n"
        f"cache:\n  dir: '{tmp_path / 'cache'}'\n  tag_ttl: 1h\n"
    )
    argv = ["engine", "update", name, "--engine", engine_url, "--state", str(tmp_path / "s.db")]
    argv += ["--monitor-only", "--config", str(cfg), "-f", "json"]
    runner = CliRunner()

    first = runner.invoke(app, argv)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["results"][0]["outcome"] == "up-to-date"
    assert any((tmp_path / "cache").rglob("*")), "the run used the on-disk cache"

    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    second = runner.invoke(app, argv)
    assert second.exit_code == 1, second.output
    (r,) = json.loads(second.stdout)["results"]
    assert (r["outcome"], r["to_digest"]) == ("available", d2)


def test_a_container_of_a_locally_built_image_is_skipped(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    """As after `docker compose build`: the image exists only on this host (no RepoDigests);
    no registry is asked about it and the container is left alone."""
    repo = _repo("local")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    base, port = names("base"), free_port()
    base_id = _run(engine, f"{plain_registry.host}/{repo}:1.0.0", base, port)
    local = f"localhost/{repo}-built"
    engine.api.commit(base_id, repository=local, tag="1")
    name, port2 = names("built"), free_port()
    built_id = _run(engine, f"{local}:1", name, port2, _pull=False)

    updater = LiveUpdater(engine, store, probes=_probes(port2), stop_timeout=STOP)
    (res,) = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(name,)))

    assert res.outcome == "skipped" and "built locally" in res.reason, res
    assert engine.inspect(name)["Id"] == built_id


def test_recovery_undoes_an_update_interrupted_after_stopping_the_old_container(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    """The state a crash leaves between "stop old" and "start new": recovery puts it back."""
    repo = _repo("crash")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    name, port = names("web"), free_port()
    old_id = _run(engine, f"{plain_registry.host}/{repo}:1.0.0", name, port)
    engine.api.pull(f"{plain_registry.host}/{repo}@{d2}")
    new_id = str(
        engine.api.create_container_from_config(
            {
                "Image": f"{plain_registry.host}/{repo}@{d2}",
                "Labels": {LABEL_UPDATE_OF: old_id, LABEL_STATE: "candidate"},
                "HostConfig": {"PortBindings": {"8080/tcp": [{"HostPort": str(port)}]}},
            },
            name=f"{name}{NEW_MARK}{old_id[:12]}",
        )["Id"]
    )
    engine.stop(old_id, timeout=STOP)
    engine.rename(old_id, f"{name}{OLD_MARK}{old_id[:12]}")
    engine.rename(new_id, name)  # ... and then the process died

    results = [
        r
        for r in LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP).recover()
        if r.container == name
    ]

    assert [(r.outcome, r.action) for r in results] == [("rolled-back", "recover")]
    assert engine.inspect(name)["Id"] == old_id and engine.info(name).running
    assert not engine.exists(new_id)
    assert _wait_http(port) == "v1"
    assert store.history(name)[0].action == "recover"


HEALTHCHECK = {
    "Test": [
        "CMD",
        "/bin/busybox",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "http://127.0.0.1:8080/health",
    ],
    "Interval": 1_000_000_000,
    "Timeout": 2_000_000_000,
    "Retries": 2,
}


def test_engine_healthcheck_gates_the_update(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    """A container with a HEALTHCHECK is gated by the engine's status, not by the probes."""
    repo = _repo("hc")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2", healthy=False)
    name, port = names("web"), free_port()
    old_id = _run(
        engine, f"{plain_registry.host}/{repo}:1.0.0", name, port, Healthcheck=HEALTHCHECK
    )
    # no HTTP probe configured: only the engine healthcheck can catch the missing /health
    updater = LiveUpdater(engine, store, probes=Probes(grace=0.5, timeout=15), stop_timeout=STOP)
    (res,) = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(name,)))

    assert res.outcome == "rolled-back", res.reason
    assert "HEALTHCHECK" in res.reason
    assert store.history(name)[0].gates["checks"] == {"healthcheck": "unhealthy"}
    assert engine.inspect(name)["Id"] == old_id
    assert _wait_http(port) == "v1"


def test_kill_between_stop_and_start_then_a_recovering_run(
    engine: EngineClient,
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    names: Names,
    tmp_path: Path,
) -> None:
    """SIGKILL the real CLI while the engine stops the old container; the next run recovers."""
    import os
    import signal
    import subprocess
    import sys
    import time

    repo = _repo("kill")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    name, port = names("web"), free_port()
    old_id = _run(engine, f"{plain_registry.host}/{repo}:1.0.0", name, port)
    cfg_file = tmp_path / "patchwarden.yaml"
    cfg_file.write_text(f"registries:\n  '{plain_registry.host}':\n    insecure: true\n")
    state = str(tmp_path / "state.db")
    base = [
        sys.executable,
        "-m",
        "patchwarden.cli.main",
        "engine",
        "update",
        name,
        "--engine",
        engine_url,
        "--state",
        state,
        "--config",
        str(cfg_file),
        "--no-cache",
        "--probe-http",
        f"http://127.0.0.1:{port}/health",
        "--grace",
        "1",
    ]
    proc = subprocess.Popen(
        [*base, "--stop-timeout", "6"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120  # a loaded machine: the CLI alone may need 30 s
        while not any(c.name.startswith(name + "-pw-new-") for c in engine.list_containers()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the update never created its candidate"
            time.sleep(0.05)
        time.sleep(1.0)  # inside "stop old": httpd ignores SIGTERM, the engine waits 6 s
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert any(c.name.startswith(name + "-pw-new-") for c in engine.list_containers())

    run = subprocess.run(
        [*base, "--stop-timeout", "1", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode in (0, 3), run.stderr
    results = json.loads(run.stdout)["results"]
    recovered = [r for r in results if r["container"] == name]
    # first the interrupted update is undone, then the update is done properly
    assert [r["outcome"] for r in recovered] == ["rolled-back", "updated"], json.dumps(results)
    assert _wait_http(port) == "v2"
    assert not engine.exists(old_id)
    assert [c.name for c in engine.list_containers() if c.name.startswith(name)] == [name]
    actions = [r.action for r in open_store(state).history(name)]
    assert actions == ["update", "recover"]


class _GateSwitch:
    """A health endpoint the test controls: 503 until ``open()``, then 200. The first run's
    health gate waits on it, so the first run is inside its gate for exactly as long as the
    test needs (no timing guesses on a loaded machine)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.opened = threading.Event()
        switch = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200 if switch.opened.is_set() else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def open(self) -> None:
        self.opened.set()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_two_concurrent_runs_never_act_on_the_same_container(
    engine: EngineClient,
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    names: Any,
    tmp_path: Path,
) -> None:
    """Two real `engine update` processes on one state store: while the first is inside its
    health gate (old container renamed aside, candidate running under the name), the second
    run's recovery and update, and an `engine rollback`, leave the container alone and name
    the run holding its lock; the first run completes its update."""
    import subprocess
    import sys
    import time

    repo = _repo("lock")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    name, port = names("web"), free_port()
    _run(engine, f"{plain_registry.host}/{repo}:1.0.0", name, port)
    cfg_file = tmp_path / "patchwarden.yaml"
    cfg_file.write_text(f"registries:\n  '{plain_registry.host}':\n    insecure: true\n")
    state = ["--engine", engine_url, "--state", str(tmp_path / "state.db")]
    base = [sys.executable, "-m", "patchwarden.cli.main", "engine"]
    update = [*base, "update", name, *state, "--config", str(cfg_file), "--no-cache"]
    update += ["--stop-timeout", str(STOP), "--grace", "1", "-f", "json"]
    switch = _GateSwitch()
    first = subprocess.Popen(
        [*update, "--probe-http", switch.url, "--health-timeout", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(c.name.startswith(name + OLD_MARK) for c in engine.list_containers()):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never renamed the old container"
            time.sleep(0.05)
        probe = f"http://127.0.0.1:{port}/health"
        second = subprocess.run(
            [*update, "--probe-http", probe], capture_output=True, text=True, timeout=300
        )
        rollback = subprocess.run(
            [*base, "rollback", name, *state, "-f", "json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert first.poll() is None, "the first run waits in its gate until the switch opens"
        switch.open()
        out, errs = first.communicate(timeout=300)
    finally:
        switch.close()
        if first.poll() is None:
            first.kill()
            first.wait(10)
    holder = f"pid {first.pid} (engine update) on "
    assert second.returncode == 0, second.stderr
    results = json.loads(second.stdout)["results"]
    assert [(r["container"], r["outcome"]) for r in results] == [
        (name, "skipped"),  # the recovery did not touch the first run's update in progress
        (name, "skipped"),  # nor did the update
    ], results
    assert all(holder in r["reason"] for r in results), results
    assert rollback.returncode == 0, rollback.stderr
    (rb,) = json.loads(rollback.stdout)["results"]
    assert rb["outcome"] == "skipped" and holder in rb["reason"], rb
    assert first.returncode == 0, errs
    (done,) = json.loads(out)["results"]
    assert (done["outcome"], done["to_digest"]) == ("updated", d2), done
    assert _wait_http(port) == "v2"
    assert [c.name for c in engine.list_containers() if c.name.startswith(name)] == [name]
    actions = [(r.action, r.outcome) for r in open_store(str(tmp_path / "state.db")).history()]
    assert actions == [("update", "updated")], "the skipping runs recorded nothing"


def test_depends_on_label_orders_the_updates(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    repo = _repo("dep")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    image = f"{plain_registry.host}/{repo}:1.0.0"
    app_name, db_name = names("app"), names("db")  # "app" sorts first: only the label reorders
    _run(engine, image, app_name, free_port(), Labels={"patchwarden.depends-on": db_name})
    _run(engine, image, db_name, free_port())

    updater = LiveUpdater(engine, store, probes=Probes(grace=0.5, timeout=5), stop_timeout=STOP)
    results = updater.update(
        policy_candidates(_checker(plain_registry)), Selection(names=(app_name, db_name))
    )

    assert [(r.container, r.outcome) for r in results] == [
        (db_name, "updated"),
        (app_name, "updated"),
    ]
    db_rec, app_rec = store.history(db_name)[0], store.history(app_name)[0]
    assert db_rec.finished_at is not None and db_rec.finished_at <= app_rec.started_at


def test_failing_pre_update_hook_skips_the_update(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    """patchwarden.pre-update runs in the old container (busybox sh); exit 3 skips the update."""
    repo = _repo("prehook")
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    name, port = names("web"), free_port()
    hook = "echo draining; echo $(cat /www/version); echo queue not empty >&2; exit 3"
    old_id = _run(
        engine,
        f"{plain_registry.host}/{repo}:1.0.0",
        name,
        port,
        Labels={"patchwarden.pre-update": hook, "patchwarden.hook-timeout": "10"},
    )

    updater = LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP)
    (res,) = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(name,)))

    assert res.outcome == "skipped", res.reason
    assert "pre-update hook exited 3" in res.reason and "queue not empty" in res.reason
    assert engine.inspect(name)["Id"] == old_id and engine.info(name).running
    assert engine.info(name).digest == d1
    assert [c.name for c in engine.list_containers() if c.name.startswith(name)] == [name]
    assert _wait_http(port) == "v1"
    (rec,) = store.history(name)
    (h,) = rec.gates["hooks"]
    assert (h["phase"], h["exit_code"], h["timeout_s"]) == ("pre-update", 3, 10.0)
    assert h["output"] == "draining | v1 | queue not empty"  # ran in the old container


def test_failing_post_update_hook_rolls_back(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    """A passing pre-update hook, then patchwarden.post-update fails in the new container."""
    repo = _repo("posthook")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    name, port = names("web"), free_port()
    old_id = _run(
        engine,
        f"{plain_registry.host}/{repo}:1.0.0",
        name,
        port,
        Labels={
            "patchwarden.pre-update": "echo drained > /www/drained",
            "patchwarden.post-update": "echo warming $(cat /www/version); exit 7",
        },
    )

    updater = LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP)
    (res,) = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(name,)))

    assert res.outcome == "rolled-back", res.reason
    assert res.to_digest == d2
    assert "post-update hook exited 7: warming v2" in res.reason  # ran in the new container
    assert engine.inspect(name)["Id"] == old_id and engine.info(name).running
    assert _wait_http(port) == "v1"
    assert _wait_http(port, "/drained") == "drained\n"  # the pre-update hook ran in the old one
    assert [c.name for c in engine.list_containers() if c.name.startswith(name)] == [name]
    (rec,) = store.history(name)
    assert [(h["phase"], h["exit_code"]) for h in rec.gates["hooks"]] == [
        ("pre-update", 0),
        ("post-update", 7),
    ]
    assert rec.gates["ok"] is False


def test_keep_images_removes_unused_images_but_not_the_previous_one(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    repo = _repo("keep")
    # contents of their own: an image ID shared with another test's repository is never removed
    d1, d2, d3 = (
        push_web_image(layouts, plain_registry.host, repo, f"1.0.{n}", version=f"{repo}-{n}")
        for n in range(3)
    )
    name, port = names("web"), free_port()
    _run(engine, f"{plain_registry.host}/{repo}:1.0.0", name, port)
    engine.api.pull(f"{plain_registry.host}/{repo}", tag="1.0.1")  # pulled, used by nothing

    updater = LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP, keep_images=0)
    (res,) = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(name,)))

    assert res.outcome == "updated" and res.to_digest == d3, res.reason
    assert engine.inspect_image(f"{plain_registry.host}/{repo}@{d1}")  # rollback needs it
    assert engine.inspect_image(f"{plain_registry.host}/{repo}@{d3}")
    left = {
        d.partition("@")[2]
        for img in engine.list_images()
        for d in img.get("RepoDigests") or []
        if d.startswith(f"{plain_registry.host}/{repo}@")
    }
    assert left == {d1, d3}
    assert store.history(name)[0].gates["images_removed"] == [d2]


def test_concurrent_updates_of_independent_containers(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    repo = _repo("conc")
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    image = f"{plain_registry.host}/{repo}:1.0.0"
    (a, pa), (b, pb) = (names("a"), free_port()), (names("b"), free_port())
    _run(engine, image, a, pa)
    _run(engine, image, b, pb)

    updater = LiveUpdater(
        engine, store, probes=Probes(grace=1.0, timeout=5), stop_timeout=STOP, concurrency=2
    )
    results = updater.update(policy_candidates(_checker(plain_registry)), Selection(names=(a, b)))

    assert [(r.container, r.outcome) for r in results] == [(a, "updated"), (b, "updated")]
    assert _wait_http(pa) == "v2" and _wait_http(pb) == "v2"
    ra, rb = store.history(a)[0], store.history(b)[0]
    assert ra.finished_at is not None and rb.finished_at is not None
    assert ra.started_at < rb.finished_at and rb.started_at < ra.finished_at  # overlapped


def test_scan_an_image_from_the_engine_store(
    engine: EngineClient,
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`scan IMAGE --image-src engine`: the engine's image export gives the same packages as
    the registry, and leaves no temporary file behind."""
    status = (
        b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n\n"
        b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n"
        b"Version: 1:1.2.13.dfsg-1\n\n"
    )
    repo = _repo("scan")
    push_web_image(
        layouts,
        plain_registry.host,
        repo,
        "1.0.0",
        version="v1",
        extra={"var/lib/dpkg/status": status},
    )
    image = f"{plain_registry.host}/{repo}:1.0.0"
    engine.api.pull(f"{plain_registry.host}/{repo}", tag="1.0.0")
    import tempfile

    from patchwarden.scan.sources import engine_image, unpack

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    spooled: list[Path] = []
    real_spool = unpack.spool  # what engine_image calls, recorded there

    def recording_spool(chunks: Iterator[bytes], max_bytes: int, *, too_big: Exception) -> Path:
        spooled.append(real_spool(chunks, max_bytes, too_big=too_big))
        return spooled[-1]

    monkeypatch.setattr(engine_image, "spool", recording_spool)
    runner = CliRunner()
    base = ["scan", image, "--sbom-only", "--no-cache", "-f", "json"]

    from_registry = runner.invoke(app, base)
    from_engine = runner.invoke(app, [*base, "--image-src", "engine", "--engine", engine_url])

    assert from_registry.exit_code == 0, from_registry.output
    assert from_engine.exit_code == 0, from_engine.output
    reg, eng = json.loads(from_registry.stdout), json.loads(from_engine.stdout)
    names = [(p["name"], p["version"]) for p in eng["packages"]]
    assert names == [("libc6", "2.36-9"), ("zlib1g", "1:1.2.13.dfsg-1")]
    assert names == [(p["name"], p["version"]) for p in reg["packages"]]
    assert eng["image"] == f"engine:{image}"
    assert len(spooled) == 1 and spooled[0].parent == tmp  # the export was spooled here...
    assert list(tmp.iterdir()) == []  # ...and removed when the scan ended

    missing = runner.invoke(
        app,
        ["scan", f"{image}-nope", "--sbom-only", "--image-src", "engine", "--engine", engine_url],
    )
    assert missing.exit_code == 3, missing.output
    assert "not found" in missing.output or "no such image" in missing.output.lower()


def test_trust_gate_refuses_unsigned_candidate_then_updates_signed(
    engine: EngineClient, plain_registry: RegistryServer, layouts: Path, names: Names, store: Store
) -> None:
    """`trust:` in engine update: the unsigned candidate is refused (container untouched, the
    reason names the expected key); once signed, the same candidate is deployed."""
    from patchwarden.app.wiring import build_check_gate, build_registry
    from patchwarden.config.policies import PolicyResolver
    from patchwarden.core.ref import parse_reference
    from patchwarden.devtools.cosign import Signer
    from patchwarden.registry import RegistryClient
    from patchwarden.registry.writer import RegistryWriter

    host = plain_registry.host
    repo = _repo("trust")
    push_web_image(layouts, host, repo, "5.0.0", version="v1")
    d2 = push_web_image(layouts, host, repo, "5.0.1", version="v2")
    name, port = names("web"), free_port()
    old_id = _run(engine, f"{host}/{repo}:5.0.0", name, port)
    signer = Signer("ecdsa")
    cfg = Config.model_validate(
        {
            "registries": {host: {"insecure": True}},
            "trust": [{"match": f"{host}/{repo}", "keys": [signer.public_pem().decode()]}],
        }
    )

    def checker() -> Checker:
        reg = build_registry(cfg, use_cache=False)
        gate = build_check_gate(cfg)
        return Checker(reg, PolicyResolver(cfg), concurrency=1, trust=gate)

    updater = LiveUpdater(engine, store, probes=_probes(port), stop_timeout=STOP)
    (res,) = updater.update(policy_candidates(checker()), Selection(names=(name,)))
    assert res.outcome == "failed", res.reason
    assert "candidate 5.0.1@sha256:" in res.reason and "found no signature" in res.reason
    assert engine.inspect(name)["Id"] == old_id and engine.info(name).running

    with RegistryClient() as c:
        signer.sign_image(RegistryWriter(c), parse_reference(f"{host}/{repo}:5.0.1"), d2)
    (res,) = updater.update(policy_candidates(checker()), Selection(names=(name,)))
    assert res.outcome == "updated", res.reason
    assert engine.info(name).digest == d2


def test_connecting_finds_the_api_version_without_get_version(
    engine_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API version comes from ``GET /_ping``'s header: Podman answers ``GET /version`` by
    running its OCI runtime and conmon (seconds on a busy host), and every engine command and
    rollout starts by connecting."""
    import docker

    from patchwarden.engine.client import connect

    expected = EngineClient(engine_url).version()["ApiVersion"]

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("GET /version while connecting")

    monkeypatch.setattr(docker.APIClient, "version", refuse)
    client = connect(engine_url)
    assert client.api.api_version == expected
    assert client.list_containers(all=True) is not None  # requests use that version
