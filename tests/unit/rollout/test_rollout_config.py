"""The environments: section: the issue's smallest configuration, and precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.app.rollout import canary_size, plan_waves
from patchwarden.config.loader import load_config
from patchwarden.config.rollout import Waves
from patchwarden.config.schema import Config
from patchwarden.errors import ConfigError

SMALLEST = """\
environments:
  - name: staging
    engine: unix:///run/podman/podman.sock
    containers: {label: "env=staging"}
  - name: prod
    engine: unix:///run/podman/podman.sock
    containers: {label: "env=prod"}
    waves: {canary: 1, max_parallel: 2}
"""


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "patchwarden.yaml"
    path.write_text(text)
    return load_config(path)


def test_the_smallest_configuration_of_the_issue_loads(tmp_path: Path) -> None:
    cfg = _load(tmp_path, SMALLEST)
    staging, prod = cfg.environments
    assert (staging.name, staging.kind, staging.engine) == (
        "staging",
        "engine",
        "unix:///run/podman/podman.sock",
    )
    assert staging.containers is not None and staging.containers.labels == ["env=staging"]
    assert (prod.waves.canary, prod.waves.max_parallel) == (1, 2)
    assert staging.waves.canary == 0 and staging.waves.max_parallel is None
    assert prod.approval is None and prod.gates.soak.total_seconds() == 0


def test_full_gates_load(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        SMALLEST
        + """\
    approval: manual
    gates:
      health: {http: "http://127.0.0.1:{port:8080}/health", grace: 1s, timeout: 30s}
      tests:
        - {name: smoke, run: "curl -fsS http://127.0.0.1/", timeout: 45s}
      soak: 2m
      metrics:
        prometheus: http://127.0.0.1:9090
        query: sum(rate(errors_total[1m]))
        max: 0.05
""",
    )
    prod = cfg.environments[1]
    assert prod.approval == "manual"
    assert prod.gates.tests[0].timeout.total_seconds() == 45
    assert prod.gates.soak.total_seconds() == 120
    assert prod.gates.metrics is not None and prod.gates.metrics.max == 0.05


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("    waves: {canary: 150%}\n", "invalid canary"),
        ("    waves: {canary: 1, max_parallel: 0}\n", "max_parallel"),
        ("    gates: {soak: forever}\n", "invalid duration"),
        ("    gates: {metrics: {prometheus: http://p, query: up}}\n", "give max, min or both"),
        ("    approval: automatic\n", "approval"),
        ("    wavez: {canary: 1}\n", "unknown key 'wavez'"),
    ],
)
def test_bad_values_name_the_key_and_line(tmp_path: Path, extra: str, needle: str) -> None:
    base = SMALLEST.replace("    waves: {canary: 1, max_parallel: 2}\n", "")
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, base + extra)
    assert needle in info.value.message
    assert "environments[1]" in info.value.message
    assert "patchwarden.yaml:" in info.value.message


def test_duplicate_names_and_missing_targets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="used twice"):
        _load(tmp_path, SMALLEST.replace("name: prod", "name: staging"))
    with pytest.raises(ConfigError, match="needs containers"):
        _load(tmp_path, "environments:\n  - {name: a, engine: unix:///x}\n")
    with pytest.raises(ConfigError, match="give a target"):
        _load(tmp_path, "environments:\n  - {name: a}\n")
    with pytest.raises(ConfigError, match="at least one of label"):
        _load(tmp_path, "environments:\n  - {name: a, containers: {}}\n")


def test_canary_sizes() -> None:
    assert canary_size(1, 10) == 1
    assert canary_size(3, 2) == 2
    assert canary_size("10%", 20) == 2
    assert canary_size("1%", 20) == 1  # a percentage never rounds to no canary
    assert canary_size("25%", 0) == 0


def test_waves_canary_then_batches() -> None:
    names = [f"c{i}" for i in range(7)]
    assert plan_waves(names, Waves(canary=1, max_parallel=2)) == [
        ("canary", ["c0"]),
        ("batch", ["c1", "c2"]),
        ("batch", ["c3", "c4"]),
        ("batch", ["c5", "c6"]),
    ]
    assert plan_waves(names, Waves()) == [("all", names)]
    assert plan_waves(names[:2], Waves(canary=5)) == [("canary", ["c0", "c1"])]
    assert plan_waves(names[:4], Waves(max_parallel=3)) == [
        ("batch", ["c0", "c1", "c2"]),
        ("batch", ["c3"]),
    ]
