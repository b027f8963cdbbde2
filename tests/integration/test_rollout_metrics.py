"""The metrics gate against a real Prometheus server scraping a test exporter whose error
ratio is the share of prod containers that serve the bad version (so the error rate rises when,
and only when, the bad digest runs)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from patchwarden.app.rollout import Prometheus
from patchwarden.devtools.registry_server import RegistryServer
from testkit.podman import push_web_image
from testkit.prom import Exporter, prometheus
from testkit.rollout_setup import (
    Fleet,
    cli,
    engine,
    engine_url,
    env_doc,
    environment,
    fleet,
    layouts,
    wait_http,
    where,
    write_config,
)
from testkit.tools import require_tool

pytestmark = pytest.mark.integration
__all__ = ["engine", "engine_url", "fleet", "layouts"]  # fixtures used by name
BAD = "v-bad"


class ErrorRatio:
    """Share of the watched containers whose /version is the bad one, measured every 0.2 s
    on a thread (a scrape answers at once, even on a loaded machine)."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.value = 0.0
        self.stopped = threading.Event()

    def __call__(self) -> float:
        return self.value

    def measure(self) -> None:
        while not self.stopped.wait(0.2):
            ports = list(self.ports)
            bad = 0
            for port in ports:
                # down during its replacement: not counted either way
                with contextlib.suppress(httpx.HTTPError):
                    bad += httpx.get(f"http://127.0.0.1:{port}/version", timeout=1).text == BAD
            self.value = bad / len(ports) if ports else 0.0


@pytest.fixture(scope="module")
def ratio() -> Iterator[ErrorRatio]:
    r = ErrorRatio()
    thread = threading.Thread(target=r.measure, daemon=True)
    thread.start()
    yield r
    r.stopped.set()
    thread.join(5)


@pytest.fixture(scope="module")
def prom_url(tmp_path_factory: pytest.TempPathFactory, ratio: ErrorRatio) -> Iterator[str]:
    binary = require_tool("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    with Exporter(ratio) as exporter, prometheus(binary, workdir, exporter.address) as url:
        yield url


def test_prometheus_client_reads_the_exporter(prom_url: str) -> None:
    (sample,) = Prometheus().query(prom_url, 'max(app_error_ratio{env="prod"})')
    assert sample.value == 0.0
    with pytest.raises(Exception, match="rejected the query"):
        Prometheus().query(prom_url, "max(")


def test_metrics_gate_passes_a_good_digest_and_stops_a_bad_canary(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
    prom_url: str,
    ratio: ErrorRatio,
) -> None:
    repo = f"web-metrics-{fleet.prefix}"
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    bad = push_web_image(layouts, plain_registry.host, repo, "1.0.2", version=BAD)
    prod = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "prod", 3)
    ratio.ports = [fleet.ports[n] for n in prod]
    metrics = {
        "prometheus": prom_url,
        # the worst ratio of the last 5 s: a scrape missed on a busy machine is not "no data"
        "query": 'max(max_over_time(app_error_ratio{env="prod"}[5s]))',
        "max": 0.1,
        "interval": 0.5,
    }
    config = write_config(
        tmp_path / "patchwarden.yaml",
        plain_registry.host,
        [
            environment(
                "prod",
                engine_url,
                fleet.label("prod"),
                waves={"canary": 1, "max_parallel": 2},
                soak="3s",
                gates={"metrics": metrics},
            )
        ],
    )
    state = tmp_path / "state.db"
    try:
        code, doc, err = cli(
            "start", f"{plain_registry.host}/{repo}@{d2}", config=config, state=state
        )
        assert code == 0, doc.get("stopped")
        for wave in env_doc(doc, "prod")["waves"]:
            gate = next(g for g in wave["gates"] if g["gate"] == "metrics")
            assert gate["ok"] and gate["detail"]["evaluations"] >= 3
            assert gate["detail"]["last_values"] == [0.0]
        assert set(fleet.digests(prod).values()) == {d2}

        code, doc, err = cli(
            "start", f"{plain_registry.host}/{repo}@{bad}", config=config, state=state
        )
        assert code == 3, err
        stopped = doc["stopped"]
        assert (stopped["environment"], stopped["wave"], stopped["gate"]) == ("prod", 0, "metrics")
        assert "must be <= 0.1" in stopped["reason"]
        canary_wave = env_doc(doc, "prod")["waves"][0]
        gate = next(g for g in canary_wave["gates"] if g["gate"] == "metrics")
        assert not gate["ok"] and gate["detail"]["last_values"][0] > 0.1
        assert {w for w, _ in where(doc, "prod").values()} == {"old"}
        assert set(fleet.digests(prod).values()) == {d2}, "the canary went back to the good digest"
        assert all(wait_http(fleet.ports[n]) == "v2" for n in prod)
        assert d1 not in fleet.digests(prod).values()
    finally:
        ratio.ports = []
    assert not fleet.leftovers()
