"""Pre-/post-update hooks (container labels, run with ``sh -c`` through the exec API)."""

from __future__ import annotations

import time

import pytest

from patchwarden.app import live
from patchwarden.app.live import Candidate, GateResult, LiveUpdater, Selection
from patchwarden.app.live import updater as live_updater
from patchwarden.core.ref import ImageRef
from patchwarden.engine.info import ContainerInfo
from testkit.engine_fakes import FakeEngine, MemoryStore

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
IMAGE = "reg.example/web:1.0.0"
PRE, POST = live.LABEL_PRE_UPDATE, live.LABEL_POST_UPDATE


@pytest.fixture()
def gate(monkeypatch: pytest.MonkeyPatch) -> list[GateResult]:
    results = [GateResult(True, "healthy (test)", {"http": "ok"})]
    monkeypatch.setattr(live_updater, "run_gate", lambda engine, cid, probes: results[0])
    monkeypatch.setattr(time, "sleep", lambda s: None)
    return results


def _to_v2(info: ContainerInfo, ref: ImageRef) -> Candidate:
    return Candidate(ref.with_tag("1.0.1").with_digest(D2), None, "minor update allowed")


def _setup(**labels: str) -> tuple[FakeEngine, MemoryStore, LiveUpdater, str]:
    engine, store = FakeEngine(), MemoryStore()
    engine.pulled_digest = D2
    cid = engine.add("web", IMAGE, D1, labels)
    return engine, store, LiveUpdater(engine, store), cid


def test_hooks_run_in_the_old_then_the_new_container(gate: list[GateResult]) -> None:
    engine, store, updater, old = _setup(**{PRE: "drain", POST: "warm-up"})

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "updated" and "post-update hook ok" in res.reason
    ops = [op for op, _ in engine.calls]
    assert ops == [
        "pull", "tag", "create", "exec", "stop", "rename", "rename", "start", "exec", "remove"
    ]  # fmt: skip
    # the pre-update hook runs in the old container (still named web), the post-update hook
    # in the new one (named web by then, after the gate)
    assert engine.calls[3] == ("exec", "web: drain")
    assert engine.calls[8] == ("exec", "web: warm-up")
    assert engine.info("web").id != old
    hooks = store.records[0].gates["hooks"]
    assert [(h["phase"], h["command"], h["exit_code"], h["ok"]) for h in hooks] == [
        ("pre-update", "drain", 0, True),
        ("post-update", "warm-up", 0, True),
    ]
    assert engine.exec_timeouts == [30.0, 30.0]


def test_failing_pre_update_hook_skips_and_changes_nothing(gate: list[GateResult]) -> None:
    engine, store, updater, old = _setup(**{PRE: "drain"})
    engine.exec_results["drain"] = (3, "line 1\nline 2\nqueue not empty\n")

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "skipped"
    assert "pre-update hook exited 3" in res.reason and "queue not empty" in res.reason
    assert [op for op, _ in engine.calls] == ["pull", "tag", "create", "exec", "remove"]
    (only,) = engine.list_containers()
    assert (only.id, only.name, only.state) == (old, "web", "running")
    (rec,) = store.records
    assert rec.outcome == "skipped"
    assert rec.gates["hooks"][0]["exit_code"] == 3
    assert rec.gates["hooks"][0]["output"] == "line 1 | line 2 | queue not empty"


def test_pre_update_hook_timeout_from_the_label_skips(gate: list[GateResult]) -> None:
    engine, _store, updater, old = _setup(**{PRE: "sleep 99", live.LABEL_HOOK_TIMEOUT: "2.5"})
    engine.exec_results["sleep 99"] = (None, "")

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "skipped" and "timed out after 2.5s" in res.reason
    assert engine.exec_timeouts == [2.5]
    assert engine.info("web").id == old and engine.info("web").running


def test_cli_hook_timeout_is_the_default(gate: list[GateResult]) -> None:
    engine, store = FakeEngine(), MemoryStore()
    engine.pulled_digest = D2
    engine.add("web", IMAGE, D1, {PRE: "drain", live.LABEL_HOOK_TIMEOUT: "not a number"})
    updater = LiveUpdater(engine, store, hook_timeout=7)

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "updated" and engine.exec_timeouts == [7.0]


def test_failing_post_update_hook_rolls_back(gate: list[GateResult]) -> None:
    engine, store, updater, old = _setup(**{POST: "warm-up"})
    engine.exec_results["warm-up"] = (1, "cache unreachable")

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "rolled-back"
    assert "post-update hook exited 1: cache unreachable" in res.reason
    (only,) = engine.list_containers()
    assert (only.id, only.name, only.state) == (old, "web", "running")
    rec = store.records[0]
    assert rec.gates["ok"] is False and rec.gates["hooks"][0]["phase"] == "post-update"
    assert rec.gates["checks"]["post-update hook"].startswith("exited 1")


def test_post_update_hook_not_run_when_the_gate_fails(gate: list[GateResult]) -> None:
    gate[0] = GateResult(False, "GET x -> 500")
    engine, _store, updater, _old = _setup(**{POST: "warm-up"})

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "rolled-back" and "exec" not in [op for op, _ in engine.calls]


def test_hook_the_engine_cannot_run_counts_as_failed(gate: list[GateResult]) -> None:
    engine, _store, updater, old = _setup(**{PRE: "drain"})
    engine.fail["exec"] = "container is not running"

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "skipped" and "could not run: container is not running" in res.reason
    assert engine.info("web").id == old
