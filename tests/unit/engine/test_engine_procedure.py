"""The live-update procedure against an in-memory engine: ordering, rollback, recovery."""

from __future__ import annotations

import time

import pytest

from patchwarden.app import live
from patchwarden.app.live import Candidate, GateResult, LiveUpdater, Selection
from patchwarden.app.live import updater as live_updater
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo
from patchwarden.errors import UsageError
from patchwarden.policy.model import UpdateLevel
from patchwarden.refs.model import Inventory
from testkit.engine_fakes import FakeEngine, MemoryStore

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
IMAGE = "reg.example/web:1.0.0"


@pytest.fixture()
def gate(monkeypatch: pytest.MonkeyPatch) -> list[GateResult]:
    results = [GateResult(True, "healthy (test)", {"http": "ok"})]
    monkeypatch.setattr(live_updater, "run_gate", lambda engine, cid, probes: results[0])
    monkeypatch.setattr(time, "sleep", lambda s: None)  # _undo's settle pause
    return results


def _to_v2(info: ContainerInfo, ref: ImageRef) -> Candidate:
    return Candidate(ref.with_tag("1.0.1").with_digest(D2), None, "minor update allowed")


def _setup(**labels: str) -> tuple[FakeEngine, MemoryStore, LiveUpdater, str]:
    engine, store = FakeEngine(), MemoryStore()
    engine.pulled_digest = D2
    cid = engine.add("web", IMAGE, D1, labels)
    return engine, store, LiveUpdater(engine, store), cid


def test_healthy_update_follows_the_procedure(gate: list[GateResult]) -> None:
    engine, store, updater, old = _setup()

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "updated" and res.to_digest == D2 and res.to_image.endswith(":1.0.1")
    ops = [op for op, _ in engine.calls]
    assert ops == ["pull", "tag", "create", "stop", "rename", "rename", "start", "remove"]
    assert engine.calls[2][1] == f"web-pw-new-{old[:12]}"
    assert engine.calls[4][1] == f"web-pw-old-{old[:12]}"
    assert engine.calls[-1] == ("remove", old)
    (new,) = engine.list_containers()
    assert new.name == "web" and new.labels[live.LABEL_UPDATE_OF] == old
    (rec,) = store.records
    assert (rec.outcome, rec.action, rec.from_digest, rec.to_digest) == (
        "updated",
        "update",
        D1,
        D2,
    )
    assert rec.gates["ok"] is True and "stopped old" in rec.gates["steps"]


def test_failed_gate_rolls_back_to_the_old_container(gate: list[GateResult]) -> None:
    gate[0] = GateResult(False, "GET http://x/health -> 500, expected 200")
    engine, store, updater, old = _setup()

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "rolled-back" and "500" in res.reason
    (only,) = engine.list_containers()
    assert (only.id, only.name, only.state) == (old, "web", "running")
    assert store.records[0].outcome == "rolled-back"


def test_start_failure_rolls_back(
    gate: list[GateResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _, updater, _old = _setup()
    engine.fail["start"] = "port is already allocated"

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "failed"  # the old one cannot start either (same fault)
    engine.fail.clear()
    engine2, _, updater2, old2 = _setup()
    calls = {"n": 0}
    real_start = engine2.start

    def start_once_fails(ref: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise EngineError("exec format error")
        real_start(ref)

    monkeypatch.setattr(engine2, "start", start_once_fails)
    (res2,) = updater2.update(_to_v2, Selection())
    assert res2.outcome == "rolled-back" and "exec format error" in res2.reason
    (only,) = engine2.list_containers()
    assert (only.id, only.name, only.state) == (old2, "web", "running")


def test_create_failure_leaves_the_old_container_untouched(gate: list[GateResult]) -> None:
    engine, _store, updater, old = _setup()
    engine.fail["create"] = "invalid mount"

    (res,) = updater.update(_to_v2, Selection())

    assert res.outcome == "failed" and "untouched" in res.reason
    assert [op for op, _ in engine.calls] == ["pull", "tag", "create"]
    assert engine.info("web").id == old and engine.info("web").running


def test_selection_rules(gate: list[GateResult]) -> None:
    engine, store = FakeEngine(), MemoryStore()
    engine.add("off", IMAGE, D1, {"patchwarden.enable": "false"})
    engine.add("on", IMAGE, D1, {"patchwarden.enable": "true"})
    engine.add("plain", IMAGE, D1)
    engine.add("pinned", f"reg.example/web@{D1}", D1)
    engine.add("by-id", "a" * 64, None)
    engine.add("stopped", IMAGE, D1, state="exited")
    engine.add("web-pw-old-0123456789ab", IMAGE, D1)
    updater = LiveUpdater(engine, store)

    monitor = {r.container: r for r in updater.update(_to_v2, Selection(), monitor_only=True)}
    opt_in = {
        r.container for r in updater.update(_to_v2, Selection(opt_in=True), monitor_only=True)
    }

    assert monitor["off"].outcome == "skipped" and "enable=false" in monitor["off"].reason
    assert monitor["pinned"].outcome == "skipped" and "digest" in monitor["pinned"].reason
    assert monitor["by-id"].outcome == "skipped" and "image ID" in monitor["by-id"].reason
    assert monitor["stopped"].reason == "not running"
    assert monitor["plain"].reason.startswith("monitor only") and monitor["plain"].to_digest == D2
    assert "web-pw-old-0123456789ab" not in monitor
    assert opt_in == {"off", "on"}
    assert engine.calls == [] and store.records == []


def test_rollback_goes_to_the_previous_digest_from_history(gate: list[GateResult]) -> None:
    engine, _store, updater, _ = _setup()
    updater.update(_to_v2, Selection())
    engine.pulled_digest = D1

    res = updater.rollback("web")

    assert (res.outcome, res.action, res.from_digest, res.to_digest) == (
        "reverted",  # a requested rollback that passed its gate; not "updated"
        "rollback",
        D2,
        D1,
    )
    assert res.to_image == "reg.example/web:1.0.0"
    assert ("pull", f"reg.example/web:1.0.0@{D1}") in engine.calls


def test_rollback_without_history_needs_a_digest(gate: list[GateResult]) -> None:
    _, _, updater, _ = _setup()
    with pytest.raises(UsageError, match="--to"):
        updater.rollback("web")
    assert updater.rollback("web", D1).outcome == "skipped"  # already there


def test_rollback_to_a_malformed_digest_is_refused_before_the_engine(gate: list[GateResult]) -> None:
    engine, store, updater, _ = _setup()
    with pytest.raises(UsageError, match="invalid sha256 digest") as exc:
        updater.rollback("web", "sha256:deadbeef")
    assert exc.value.exit_code == 2
    assert engine.calls == [] and store.records == []


def test_recover_undoes_when_the_candidate_never_started(gate: list[GateResult]) -> None:
    engine, _store, updater, old = _setup()
    engine.containers[old].name = f"web-pw-old-{old[:12]}"
    engine.containers[old].state = "exited"
    new = engine.add("web", "reg.example/web:1.0.1", D2, {live.LABEL_UPDATE_OF: old}, "created")

    (res,) = updater.recover()

    assert (res.container, res.outcome, res.action) == ("web", "rolled-back", "recover")
    assert not engine.exists(new)
    assert engine.info("web").id == old and engine.info("web").running


def test_recover_completes_when_the_candidate_runs_healthy(gate: list[GateResult]) -> None:
    engine, _store, updater, old = _setup()
    engine.containers[old].name = f"web-pw-old-{old[:12]}"
    engine.containers[old].state = "exited"
    new = engine.add("web", "reg.example/web:1.0.1", D2, {live.LABEL_UPDATE_OF: old})

    (res,) = updater.recover()

    assert res.outcome == "updated" and "completed" in res.reason
    assert not engine.exists(old) and engine.info("web").id == new


def test_recover_before_the_old_one_was_renamed(gate: list[GateResult]) -> None:
    engine, _store, updater, old = _setup()
    engine.containers[old].state = "exited"  # stopped, then the process died
    new = engine.add(f"web-pw-new-{old[:12]}", "x", D2, {live.LABEL_UPDATE_OF: old}, "created")

    (res,) = updater.recover()

    assert res.outcome == "rolled-back"
    assert not engine.exists(new) and engine.info("web").running


def test_policy_candidates_maps_check_results() -> None:
    from patchwarden.app.check import CheckReport, CheckResult, Status, Version

    class FakeChecker:
        def __init__(self, status: Status, candidate: Version | None) -> None:
            self.status, self.candidate = status, candidate

        def run(self, inventory: Inventory) -> CheckReport:
            (ref,) = inventory.references
            assert ref.ref.digest == D1  # the running digest is what check compares
            res = CheckResult(
                ref, self.status, Version("1.0.0", D1), self.candidate, UpdateLevel.MINOR, "why"
            )
            return CheckReport((res,), (), {})

    info = ContainerInfo("c" * 64, "web", IMAGE, "i", D1)
    ref = parse_reference(IMAGE)
    out = live.policy_candidates(FakeChecker(Status.OUTDATED, Version("1.1.0", D2)))(info, ref)
    assert out.image == ref.with_tag("1.1.0").with_digest(D2)
    out = live.policy_candidates(FakeChecker(Status.UP_TO_DATE, None))(info, ref)
    assert (out.image, out.outcome) == (None, "up-to-date")
    out = live.policy_candidates(FakeChecker(Status.ERROR, None))(info, ref)
    assert out.outcome == "failed"
    # The image is known under several digests (pulled by tag and by digest): the candidate
    # being any of them means up to date, not "update again on every run".
    both = ContainerInfo("c" * 64, "web", IMAGE, "i", D1, digests=(D1, D2))
    out = live.policy_candidates(FakeChecker(Status.OUTDATED, Version("1.0.0", D2)))(both, ref)
    assert (out.image, out.outcome) == (None, "up-to-date")


def test_containers_of_locally_built_images_are_skipped(gate: list[GateResult]) -> None:
    engine, store = FakeEngine(), MemoryStore()
    engine.add("app", "localhost/app:1", None, local_build=True)
    updater = LiveUpdater(engine, store)

    def never(info: ContainerInfo, ref: ImageRef) -> Candidate:
        raise AssertionError("no registry is asked about a locally built image")

    (res,) = updater.update(never, Selection())

    assert res.outcome == "skipped" and "built locally" in res.reason
    assert engine.calls == []


def _c(name: str, **labels: str) -> ContainerInfo:
    return ContainerInfo(name * 4, name, IMAGE, "i", D1, labels)


def test_dependency_order_respects_labels_and_compose() -> None:
    proj = {"com.docker.compose.project": "shop"}
    containers = [
        _c(
            "a-web",
            **proj,
            **{
                "com.docker.compose.service": "web",
                "com.docker.compose.depends_on": "api:service_started:false",
            },
        ),
        _c(
            "b-api",
            **proj,
            **{"com.docker.compose.service": "api", "patchwarden.depends-on": "c-db"},
        ),
        _c("c-db", **proj, **{"com.docker.compose.service": "db"}),
        _c("d-lone"),
        _c("e-x", **{"patchwarden.depends-on": "f-y"}),
        _c("f-y", **{"patchwarden.depends-on": "e-x"}),  # a cycle does not stop the run
    ]

    order = [c.name for c in live.dependency_order(containers)]

    assert order.index("c-db") < order.index("b-api") < order.index("a-web")
    assert sorted(order) == sorted(c.name for c in containers)


def test_project_selection(gate: list[GateResult]) -> None:
    engine, store = FakeEngine(), MemoryStore()
    engine.add("shop-web", IMAGE, D1, {"com.docker.compose.project": "shop"})
    engine.add("blog-web", IMAGE, D1, {"io.podman.compose.project": "blog"})
    updater = LiveUpdater(engine, store)

    results = updater.update(_to_v2, Selection(project="blog"), monitor_only=True)

    assert [r.container for r in results] == ["blog-web"]
