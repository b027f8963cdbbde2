"""Several containers at once (``concurrency``), dependencies first, dependents of a failure
skipped."""

from __future__ import annotations

import threading
import time

import pytest

from patchwarden.app import live
from patchwarden.app.live import Candidate, GateResult, LiveUpdater, Selection
from patchwarden.app.live import updater as live_updater
from patchwarden.app.live.gate import Probes
from patchwarden.core.live import LiveOutcome
from patchwarden.core.ref import ImageRef
from patchwarden.engine.api import EngineApi
from patchwarden.engine.info import ContainerInfo
from patchwarden.errors import UsageError
from testkit.engine_fakes import FakeEngine, MemoryStore

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
IMAGE = "reg.example/web:1.0.0"
DEP = live.LABEL_DEPENDS_ON


def _to_v2(info: ContainerInfo, ref: ImageRef) -> Candidate:
    return Candidate(ref.with_tag("1.0.1").with_digest(D2), None, "minor update allowed")


class Gate:
    """A gate that records when each container's gate starts and ends; optionally waits at a
    barrier (proves that containers are in their gates at the same time)."""

    def __init__(
        self,
        engine: FakeEngine,
        fail: frozenset[str] = frozenset(),
        barrier: threading.Barrier | None = None,
    ) -> None:
        self.engine, self.fail, self.barrier = engine, fail, barrier
        self.events: list[tuple[str, str]] = []
        self.active = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, engine: EngineApi, cid: str, probes: Probes) -> GateResult:
        name = self.engine.containers[cid].name
        with self.lock:
            self.events.append(("start", name))
            self.active += 1
            self.peak = max(self.peak, self.active)
        if self.barrier is not None:
            self.barrier.wait()
        else:
            threading.Event().wait(0.02)
        with self.lock:
            self.active -= 1
            self.events.append(("end", name))
        if name in self.fail:
            return GateResult(False, f"{name} unhealthy")
        return GateResult(True, "healthy (test)")


@pytest.fixture()
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)


def _engine(**containers: dict[str, str]) -> FakeEngine:
    engine = FakeEngine()
    engine.pulled_digest = D2
    for name, labels in containers.items():
        engine.add(name, IMAGE, D1, labels)
    return engine


def test_independent_containers_are_updated_at_the_same_time(
    monkeypatch: pytest.MonkeyPatch, no_sleep: None
) -> None:
    engine = _engine(a={}, b={}, c={})
    gate = Gate(engine, barrier=threading.Barrier(3, timeout=10))
    monkeypatch.setattr(live_updater, "run_gate", gate)
    updater = LiveUpdater(engine, MemoryStore(), concurrency=3)

    results = updater.update(_to_v2, Selection())

    assert [(r.container, r.outcome) for r in results] == [
        ("a", "updated"),
        ("b", "updated"),
        ("c", "updated"),
    ]  # reported in dependency/name order, whatever order they finished in
    assert gate.peak == 3


def test_concurrency_is_a_limit(monkeypatch: pytest.MonkeyPatch, no_sleep: None) -> None:
    engine = _engine(a={}, b={}, c={}, d={}, e={})
    gate = Gate(engine)
    monkeypatch.setattr(live_updater, "run_gate", gate)
    store = MemoryStore()

    results = LiveUpdater(engine, store, concurrency=2).update(_to_v2, Selection())

    assert [r.outcome for r in results] == ["updated"] * 5
    assert gate.peak <= 2 and len(store.records) == 5


def test_default_is_one_at_a_time(monkeypatch: pytest.MonkeyPatch, no_sleep: None) -> None:
    engine = _engine(a={}, b={}, c={})
    gate = Gate(engine)
    monkeypatch.setattr(live_updater, "run_gate", gate)

    LiveUpdater(engine, MemoryStore()).update(_to_v2, Selection())

    assert gate.peak == 1
    assert [n for _, n in gate.events] == ["a", "a", "b", "b", "c", "c"]


def test_a_container_waits_for_its_dependencies(
    monkeypatch: pytest.MonkeyPatch, no_sleep: None
) -> None:
    # "app" sorts first, but depends on "db"; "cache" is independent
    engine = _engine(app={DEP: "db"}, db={}, cache={})
    gate = Gate(engine)
    monkeypatch.setattr(live_updater, "run_gate", gate)

    results = LiveUpdater(engine, MemoryStore(), concurrency=3).update(_to_v2, Selection())

    assert {r.container: r.outcome for r in results} == {
        "app": "updated",
        "db": "updated",
        "cache": "updated",
    }
    assert gate.events.index(("end", "db")) < gate.events.index(("start", "app"))
    assert [r.container for r in results].index("db") < [r.container for r in results].index("app")


@pytest.mark.parametrize("concurrency", [1, 3])
def test_dependents_of_a_rolled_back_container_are_skipped(
    monkeypatch: pytest.MonkeyPatch, no_sleep: None, concurrency: int
) -> None:
    engine = _engine(app={DEP: "api"}, api={DEP: "db"}, db={}, other={})
    gate = Gate(engine, fail=frozenset({"db"}))
    monkeypatch.setattr(live_updater, "run_gate", gate)
    store = MemoryStore()

    results = {
        r.container: r
        for r in LiveUpdater(engine, store, concurrency=concurrency).update(_to_v2, Selection())
    }

    assert results["db"].outcome == "rolled-back"
    assert results["api"].outcome == "skipped"
    assert results["api"].reason == "dependency db rolled-back: not updated"
    # the skip propagates: app depends on api, which was not updated
    assert results["app"].outcome == "skipped" and results["other"].outcome == "updated"
    assert results["app"].reason == "dependency api was not updated (db rolled-back): not updated"
    assert "api" not in [n for _, n in gate.events] and "app" not in [n for _, n in gate.events]
    assert engine.info("api").digest == D1
    assert {r.container for r in store.records} == {"db", "other"}


def test_a_failed_dependency_skips_too_but_monitor_only_does_not(
    monkeypatch: pytest.MonkeyPatch, no_sleep: None
) -> None:
    engine = _engine(app={DEP: "db"}, db={})
    monkeypatch.setattr(live_updater, "run_gate", Gate(engine))
    engine.fail["create"] = "invalid mount"
    updater = LiveUpdater(engine, MemoryStore(), concurrency=2)

    results = {r.container: r for r in updater.update(_to_v2, Selection())}
    assert results["db"].outcome == "failed"
    assert results["app"].reason == "dependency db failed: not updated"

    def failing(info: ContainerInfo, ref: ImageRef) -> Candidate:
        if info.name == "db":
            return Candidate(None, LiveOutcome.FAILED, "registry down")
        return _to_v2(info, ref)

    monitor = {r.container: r for r in updater.update(failing, Selection(), monitor_only=True)}
    assert monitor["app"].reason.startswith("monitor only")


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(UsageError):
        LiveUpdater(FakeEngine(), MemoryStore(), concurrency=0)
