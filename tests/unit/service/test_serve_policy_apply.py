"""An approved container update waits for its image's policy schedule (serve.schedules):
the apply job claims nothing and touches no engine until the schedule opens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from patchwarden.config.schema import Config
from patchwarden.config.serve import JobName
from patchwarden.service.kinds import run_kind
from patchwarden.service.process import Service
from testkit.serve_helpers import ADMIN, pending


def test_an_approved_update_waits_for_its_policy_schedule(tmp_path: Path) -> None:
    never = {"match": "127.0.0.1:5000/team/*", "cron": "0 0 30 2 *"}  # February 30th
    cfg = Config.model_validate(
        {"serve": {"engine": "unix:///nonexistent.sock", "schedules": [never]}}
    )
    svc = Service(
        cfg, [tmp_path], state=str(tmp_path / "s.db"), env={"PATCHWARDEN_API_TOKEN": ADMIN}
    )

    def no_engine() -> Any:
        raise AssertionError("the engine must not be touched while the schedule is closed")

    svc.ctx.live_updater = no_engine
    p, _ = svc.fleet.propose(pending())
    svc.fleet.transition(p.id, "pending", "approved", actor="ops")
    res = run_kind(JobName.APPLY, svc.ctx, {})
    assert res.summary == f"#{p.id} web: waits for its policy schedule"
    assert [u.state for u in svc.fleet.pending()] == ["approved"]  # not claimed
    svc.stop(1)
