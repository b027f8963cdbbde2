"""Rollout records in the state store: created, saved, claimed, with their audit steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from patchwarden.store import open_store

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_create_save_claim_and_steps(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "state.db")) as store:
        rs = store.rollouts
        rid = rs.create("reg/web", "sha256:" + "a" * 64, {"environments": []}, T0)
        rec = rs.get(rid)
        assert rec is not None and rec.status == "pending" and rec.runner is None
        rs.save(rid, status="running", state={"environments": [1]}, now=T0 + timedelta(seconds=1))
        assert rs.claim(rid, None, "host:1")
        assert not rs.claim(rid, None, "host:2"), "compare-and-set: a second claimer loses"
        assert rs.claim(rid, "host:1", "host:3")
        rs.add_step(
            rid,
            kind="gate",
            name="soak",
            outcome="passed",
            started_at=T0,
            finished_at=T0 + timedelta(seconds=2.5),
            environment="prod",
            wave=1,
            detail={"checks": 3},
        )
        rs.save(rid, status="succeeded", state={}, now=T0 + timedelta(seconds=3), finished=True)
    with open_store(str(tmp_path / "state.db")) as store:
        rec = store.rollouts.get(rid)
        assert rec is not None
        assert (rec.status, rec.runner, rec.finished_at) == (
            "succeeded",
            "host:3",
            T0 + timedelta(seconds=3),
        )
        (step,) = store.rollouts.steps(rid)
        assert (step.kind, step.environment, step.wave, step.duration_s) == ("gate", "prod", 1, 2.5)
        assert store.rollouts.latest({"running"}) is None
        assert [r.id for r in store.rollouts.recent()] == [rid]
