"""Shared parts of the rollout tests: a Podman engine, environments of labelled busybox httpd
containers pulled from the session's loopback registry, a config file, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from patchwarden.cli.main import app
from patchwarden.devtools.registry_server import free_port
from patchwarden.engine.client import EngineClient
from testkit.podman import engine, engine_url

__all__ = ["engine", "engine_url"]  # fixtures, re-exported for the rollout tests
STOP = 1  # busybox httpd as PID 1 ignores SIGTERM: do not wait 10 s per stop
SMOKE = b"smoke ok\n"  # /www/smoke in images that pass the smoke test


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rollout-layouts")


@dataclass
class Fleet:
    """Containers of one test, by environment; removed afterwards."""

    engine: EngineClient
    prefix: str = field(default_factory=lambda: f"pwr-{uuid.uuid4().hex[:6]}")
    ports: dict[str, int] = field(default_factory=dict)

    def label(self, env: str) -> str:
        return f"{self.prefix}.env={env}"

    def run(self, image: str, env: str, count: int, *, extra_env: Sequence[str] = ()) -> list[str]:
        """Start ``count`` containers of ``image`` labelled for ``env`` (docker run -d -p)."""
        ref, _, tag = image.rpartition(":")
        self.engine.api.pull(ref, tag=tag)
        names = []
        for i in range(count):
            name = f"{self.prefix}-{env}-{i}"
            port = free_port()
            key, _, value = self.label(env).partition("=")
            body = {
                "Image": image,
                "Labels": {key: value},
                "Env": list(extra_env),
                "HostConfig": {
                    "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
                },
            }
            cid = str(self.engine.api.create_container_from_config(body, name=name)["Id"])
            self.engine.api.start(cid)
            self.ports[name] = port
            names.append(name)
        for name in names:
            wait_http(self.ports[name])
        return names

    def digests(self, names: Sequence[str]) -> dict[str, str | None]:
        return {n: self.engine.info(n).digest for n in names}

    def leftovers(self) -> list[str]:
        return [
            c.name
            for c in self.engine.list_containers(all=True)
            if c.name.startswith(self.prefix) and "-pw-" in c.name
        ]

    def cleanup(self) -> None:
        for c in self.engine.api.containers(all=True):
            if any(n.lstrip("/").startswith(self.prefix) for n in c.get("Names") or []):
                self.engine.api.remove_container(c["Id"], force=True)


@pytest.fixture()
def fleet(engine: EngineClient) -> Iterator[Fleet]:
    f = Fleet(engine)
    yield f
    f.cleanup()


def wait_http(port: int, path: str = "/version", timeout: float = 20.0) -> str:
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


def environment(
    name: str,
    engine_url: str,
    label: str,
    *,
    waves: dict[str, Any] | None = None,
    tests: list[dict[str, Any]] | None = None,
    soak: str = "1s",
    extra: dict[str, Any] | None = None,
    gates: dict[str, Any] | None = None,
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "name": name,
        "engine": engine_url,
        "containers": {"label": label},
        "stop_timeout": STOP,
        "gates": {
            "health": {"http": "http://127.0.0.1:{port:8080}/health", "grace": 0.5},
            "soak": soak,
            "soak_interval": 0.25,
            **({"tests": tests} if tests else {}),
            **(gates or {}),
        },
    }
    if waves:
        env["waves"] = waves
    env.update(extra or {})
    return env


def write_config(path: Path, registry_host: str, envs: list[dict[str, Any]]) -> Path:
    """patchwarden.yaml (JSON is YAML) with the registry marked insecure."""
    doc = {"registries": {registry_host: {"insecure": True}}, "environments": envs}
    path.write_text(json.dumps(doc, indent=2))
    return path


def cli(
    *args: str, config: Path, state: Path, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    """Run ``patchwarden rollout ARGS --format json`` in this process: (exit, JSON, stderr)."""
    runner = CliRunner()
    argv = ["rollout", *args, "--config", str(config), "--state", str(state), "--format", "json"]
    res = runner.invoke(app, argv, env=env, catch_exceptions=False)
    doc = json.loads(res.stdout) if res.stdout.strip() else {}
    return res.exit_code, doc, res.stderr


def cli_process(*args: str, config: Path, state: Path) -> subprocess.Popen[str]:
    """The CLI as its own process (to be killed)."""
    argv = [sys.executable, "-m", "patchwarden.cli.main", "rollout", *args]
    argv += ["--config", str(config), "--state", str(state), "--format", "json"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def env_doc(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in doc["environments"] if e["name"] == name)


def where(doc: dict[str, Any], env: str) -> dict[str, tuple[str, str | None]]:
    """Container name -> (where, digest) as the record says."""
    return {c["name"]: (c["where"], c["digest"]) for c in env_doc(doc, env)["containers"]}
