"""What ``rollout status`` shows: the record, every environment, wave, gate and container,
and the audit steps with their times and durations (the JSON schema of docs/commands/rollout.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patchwarden.app.rollout.model import GateName, RolloutState, RolloutStatus, Where
from patchwarden.errors import ExitCode
from patchwarden.store.rollouts import RolloutRecord, StepRecord


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    status: RolloutStatus
    doc: dict[str, Any]

    @property
    def all_old(self) -> bool:
        """Every container the rollout selected runs its old digest, and every file and
        registry tag it moved names the old one again."""
        containers = all(
            c["where"] == Where.OLD or c["from_digest"] == c["to_digest"]
            for env in self.doc["environments"]
            for c in env["containers"]
        )
        moved = [
            env[kind]
            for env in self.doc["environments"]
            for kind in ("gitops", "registry")
            if env.get(kind) and env[kind].get("before") != self.doc["digest"]
        ]
        return containers and all(m.get("state") == "old" for m in moved)

    def exit_code(self, undoing: bool = False) -> ExitCode:
        """0 when every environment took the digest (``undoing``: when everything is back on
        the old digest), 7 when waiting for an approval, 6 when the trust gate of a registry
        promotion refused the digest, 3 otherwise."""
        if self.status in (RolloutStatus.WAITING_APPROVAL, RolloutStatus.PENDING):
            return ExitCode.PENDING
        stopped = self.doc.get("stopped") or {}
        if not undoing and stopped.get("gate") == GateName.TRUST:
            return ExitCode.UNTRUSTED
        if undoing:
            back = self.status in (RolloutStatus.ABORTED, RolloutStatus.ROLLED_BACK)
            return ExitCode.OK if back and self.all_old else ExitCode.ERRORS
        return ExitCode.OK if self.status == RolloutStatus.SUCCEEDED else ExitCode.ERRORS


def _seconds(a: str | None, b: str | None) -> float | None:
    from datetime import datetime

    if not a or not b:
        return None
    return round((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds(), 3)


def build_report(rec: RolloutRecord, steps: list[StepRecord]) -> Report:
    state = RolloutState.from_dict(rec.state)
    envs = []
    for es in state.environments:
        envs.append(
            {
                "name": es.name,
                "kind": es.kind,
                "status": es.status,
                "started_at": es.started_at,
                "finished_at": es.finished_at,
                "duration_s": _seconds(es.started_at, es.finished_at),
                "approval": es.approval,
                "gitops": es.gitops,
                "registry": es.registry,
                "waves": [
                    {
                        "index": w.index,
                        "kind": w.kind,
                        "containers": w.containers,
                        "status": w.status,
                        "started_at": w.started_at,
                        "finished_at": w.finished_at,
                        "duration_s": _seconds(w.started_at, w.finished_at),
                        "gates": [
                            {
                                "gate": g.gate,
                                "ok": g.ok,
                                "reason": g.reason,
                                "started_at": g.started_at,
                                "duration_s": g.duration_s,
                                "detail": g.detail,
                            }
                            for g in w.gates
                        ],
                    }
                    for w in es.waves
                ],
                "containers": [
                    {
                        "name": c.name,
                        "where": c.where,
                        "digest": c.digest,
                        "from_image": c.from_image,
                        "from_digest": c.from_digest,
                        "to_image": c.to_image,
                        "to_digest": c.to_digest,
                        "reason": c.reason,
                    }
                    for c in es.containers.values()
                ],
            }
        )
    stopped = state.stopped
    doc = {
        "id": rec.id,
        "image": rec.image,
        "digest": rec.digest,
        "status": rec.status,
        "created_at": rec.created_at.isoformat(),
        "updated_at": rec.updated_at.isoformat(),
        "finished_at": rec.finished_at.isoformat() if rec.finished_at else None,
        "duration_s": (
            round((rec.finished_at - rec.created_at).total_seconds(), 3)
            if rec.finished_at
            else None
        ),
        "runner": rec.runner,
        "stopped": (
            {
                "environment": stopped.environment,
                "wave": stopped.wave,
                "gate": stopped.gate,
                "reason": stopped.reason,
            }
            if stopped
            else None
        ),
        "note": state.note,
        "chosen": state.chosen,
        "environments": envs,
        "steps": [
            {
                "kind": s.kind,
                "name": s.name,
                "outcome": s.outcome,
                "environment": s.environment,
                "wave": s.wave,
                "started_at": s.started_at.isoformat(),
                "finished_at": s.finished_at.isoformat() if s.finished_at else None,
                "duration_s": s.duration_s,
                "detail": s.detail,
            }
            for s in steps
        ],
    }
    return Report(rec.id, RolloutStatus(rec.status), doc)
