"""Image retention after a successful update (``keep_images``)."""

from __future__ import annotations

import time

import pytest

from patchwarden.app.live import Candidate, GateResult, LiveUpdater, Selection
from patchwarden.app.live import updater as live_updater
from patchwarden.app.live.model import CandidateFn
from patchwarden.core.ref import ImageRef
from patchwarden.engine.info import ContainerInfo
from patchwarden.errors import UsageError
from testkit.engine_fakes import FakeEngine, MemoryStore

REPO = "reg.example/web"
D = {n: f"sha256:{str(n) * 64}" for n in range(1, 8)}


@pytest.fixture()
def gate(monkeypatch: pytest.MonkeyPatch) -> list[GateResult]:
    results = [GateResult(True, "healthy (test)")]
    monkeypatch.setattr(live_updater, "run_gate", lambda engine, cid, probes: results[0])
    monkeypatch.setattr(time, "sleep", lambda s: None)
    return results


def _to(n: int) -> CandidateFn:
    def candidate(info: ContainerInfo, ref: ImageRef) -> Candidate:
        return Candidate(ref.with_tag(f"1.0.{n}").with_digest(D[n]), None, "update allowed")

    return candidate


def _history(keep: int | None, steps: int = 4) -> tuple[FakeEngine, MemoryStore, LiveUpdater]:
    """web went 1 -> 2 -> ... -> steps+1 (every image is still there)."""
    engine, store = FakeEngine(), MemoryStore()
    for n in range(1, steps + 2):
        engine.add_image(REPO, D[n], f"1.0.{n}")
    engine.add("web", f"{REPO}:1.0.1", D[1])
    updater = LiveUpdater(engine, store, keep_images=None)
    for n in range(2, steps + 1):
        engine.pulled_digest = D[n]
        assert updater.update(_to(n), Selection())[0].outcome == "updated"
    return engine, store, LiveUpdater(engine, store, keep_images=keep)


def _digests(engine: FakeEngine) -> set[str]:
    return {i["RepoDigests"][0].partition("@")[2] for i in engine.images}


def test_default_keeps_every_image(gate: list[GateResult]) -> None:
    engine, _store, updater = _history(None)
    engine.pulled_digest = D[5]
    updater.update(_to(5), Selection())
    assert _digests(engine) == {D[1], D[2], D[3], D[4], D[5]}
    assert "remove_image" not in [op for op, _ in engine.calls]


def test_keeps_the_n_most_recent_earlier_digests(gate: list[GateResult]) -> None:
    engine, store, updater = _history(2)  # ran 1, 2, 3; runs 4
    engine.pulled_digest = D[5]

    (res,) = updater.update(_to(5), Selection())

    assert res.outcome == "updated"
    assert _digests(engine) == {D[5], D[4], D[3]}  # current + the 2 most recent earlier
    assert store.records[-1].gates["images_removed"] == [D[1], D[2]]


@pytest.mark.parametrize("keep", [0, 1])
def test_the_previous_digest_is_always_kept(gate: list[GateResult], keep: int) -> None:
    engine, _store, updater = _history(keep)
    engine.pulled_digest = D[5]

    updater.update(_to(5), Selection())

    assert _digests(engine) == {D[5], D[4]}  # what `engine rollback` needs


def test_images_in_use_or_shared_or_without_digest_are_kept(gate: list[GateResult]) -> None:
    engine, _store, updater = _history(0)
    engine.add("other", f"{REPO}:1.0.1", D[1], state="exited")  # a stopped container uses 1
    engine.images.append(  # 2 is also tagged in another repository
        {"Id": "img-shared", "RepoTags": ["other.example/x:1"], "RepoDigests": []}
    )
    for img in engine.images:
        if img["Id"] == "img-" + D[2]:
            img["RepoTags"].append("other.example/x:2")
    engine.images.append({"Id": "img-local", "RepoTags": [f"{REPO}:dev"], "RepoDigests": []})
    engine.images.append(  # another repository entirely
        {"Id": "img-" + D[7], "RepoTags": [], "RepoDigests": [f"reg.example/api@{D[7]}"]}
    )
    engine.pulled_digest = D[5]

    updater.update(_to(5), Selection())

    ids = {i["Id"] for i in engine.images}
    assert "img-" + D[1] in ids  # used by a stopped container
    assert "img-" + D[2] in ids  # shared with another repository
    assert "img-" + D[3] not in ids  # unused, beyond the limit: removed
    assert {"img-local", "img-shared", "img-" + D[7], "img-" + D[4], "img-" + D[5]} <= ids


def test_no_retention_after_a_rollback_or_skip(gate: list[GateResult]) -> None:
    engine, _store, updater = _history(0)
    gate[0] = GateResult(False, "unhealthy")
    engine.pulled_digest = D[5]

    (res,) = updater.update(_to(5), Selection())

    assert res.outcome == "rolled-back"
    assert "remove_image" not in [op for op, _ in engine.calls]


def test_a_removal_the_engine_refuses_is_noted_not_fatal(gate: list[GateResult]) -> None:
    engine, store, updater = _history(0)
    engine.fail["remove_image"] = "image is in use by a container"
    engine.pulled_digest = D[5]

    (res,) = updater.update(_to(5), Selection())

    assert res.outcome == "updated"
    assert any("could not remove image" in s for s in store.records[-1].gates["steps"])


def test_digests_other_updates_move_to_are_kept(gate: list[GateResult]) -> None:
    engine, _store, updater = _history(0)
    updater._inflight[D[2]] = 1  # another container's update is pulling/creating 2
    engine.pulled_digest = D[5]

    updater.update(_to(5), Selection())

    assert _digests(engine) == {D[2], D[4], D[5]}


def test_keep_images_must_not_be_negative() -> None:
    with pytest.raises(UsageError):
        LiveUpdater(FakeEngine(), MemoryStore(), keep_images=-1)
