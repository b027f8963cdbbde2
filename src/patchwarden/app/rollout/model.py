"""The state of a rollout as it is stored: per environment, per wave, per container.

The whole document is rewritten (one transaction) before every side effect, so after a crash
it says what was about to happen: a container in ``deploying`` or ``rolling-back`` may be on
either digest, and ``resume`` looks at the engine to find out which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class RolloutStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting-approval"
    SUCCEEDED = "succeeded"
    STOPPING = "stopping"  # a gate failed: rolling back the environment it failed in
    FAILED = "failed"  # a gate stopped it; the environment it stopped in was rolled back
    ABORTING = "aborting"
    ABORTED = "aborted"
    ROLLING_BACK = "rolling-back"
    ROLLED_BACK = "rolled-back"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset(
    {
        RolloutStatus.SUCCEEDED,
        RolloutStatus.FAILED,
        RolloutStatus.ABORTED,
        RolloutStatus.ROLLED_BACK,
    }
)


class EnvStatus(StrEnum):
    PENDING = "pending"
    WAITING_APPROVAL = "waiting-approval"
    DEPLOYING = "deploying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a gate failed here (then rolled back)
    ROLLING_BACK = "rolling-back"
    ROLLED_BACK = "rolled-back"


class WaveStatus(StrEnum):
    PENDING = "pending"
    DEPLOYING = "deploying"
    GATING = "gating"
    PASSED = "passed"
    FAILED = "failed"


class Where(StrEnum):
    """Which digest a container runs, as far as the record knows."""

    OLD = "old"
    DEPLOYING = "deploying"  # a replacement to the new digest was started: either digest
    NEW = "new"
    ROLLING_BACK = "rolling-back"  # a replacement back to the old digest was started
    UNKNOWN = "unknown"  # neither digest (changed by someone else, or lost)


class GateName(StrEnum):
    DEPLOY = "deploy"  # pull, recreate and the per-container health gate
    TESTS = "tests"
    SOAK = "soak"
    METRICS = "metrics"
    APPROVAL = "approval"
    TRUST = "trust"  # the trust gate of a registry promotion (signatures, allowed registries)


@dataclass
class ContainerState:
    name: str
    from_image: str
    from_digest: str
    to_image: str
    to_digest: str
    where: str = Where.OLD
    digest: str | None = None  # the digest last seen running
    reason: str = ""
    # a candidate for its move may exist (created, not started) while the wave before is
    # gated; removed when the rollout stops or resumes before the move began
    prepared: bool = False

    @property
    def was_on_target(self) -> bool:
        """It ran the rollout's digest before the rollout: nothing to deploy or undo."""
        return self.from_digest == self.to_digest

    def locate(self, digest: str | None) -> Where:
        """Where a container running ``digest`` stands."""
        if digest == self.to_digest:
            return Where.NEW
        if digest == self.from_digest:
            return Where.OLD
        return Where.UNKNOWN


@dataclass
class GateResult:
    gate: str
    ok: bool
    reason: str
    started_at: str
    duration_s: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class WaveState:
    index: int
    kind: str  # canary | batch | all
    containers: list[str]
    status: str = WaveStatus.PENDING
    started_at: str | None = None
    finished_at: str | None = None
    gates: list[GateResult] = field(default_factory=list)


@dataclass
class EnvState:
    name: str
    kind: str  # engine | gitops | registry
    status: str = EnvStatus.PENDING
    started_at: str | None = None
    finished_at: str | None = None
    approval: dict[str, str] | None = None  # {"by": ..., "at": ...}
    containers: dict[str, ContainerState] = field(default_factory=dict)
    waves: list[WaveState] = field(default_factory=list)
    gitops: dict[str, Any] | None = None  # {"commit": ..., "files": [...]}
    registry: dict[str, Any] | None = None  # {"source", "destination", "before", "state", ...}

    def touched(self) -> list[ContainerState]:
        """Containers the rollout may have moved (on the new digest or possibly so)."""
        return [c for c in self.containers.values() if c.where != Where.OLD]


@dataclass
class Stopped:
    environment: str
    wave: int | None
    gate: str
    reason: str


@dataclass
class RolloutState:
    image: str
    digest: str
    environments: list[EnvState]
    config: list[dict[str, Any]]  # the environments as configured when the rollout started
    stopped: Stopped | None = None
    note: str = ""
    chosen: dict[str, Any] | None = None  # rollout start IMAGE: the candidate check chose, why

    def env(self, name: str) -> EnvState:
        return next(e for e in self.environments if e.name == name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RolloutState:
        envs = []
        for e in doc.get("environments", []):
            waves = [
                WaveState(
                    **{k: v for k, v in w.items() if k != "gates"},
                    gates=[GateResult(**g) for g in w.get("gates", [])],
                )
                for w in e.get("waves", [])
            ]
            containers = {n: ContainerState(**c) for n, c in e.get("containers", {}).items()}
            rest = {k: v for k, v in e.items() if k not in ("waves", "containers")}
            envs.append(EnvState(**rest, waves=waves, containers=containers))
        stopped = doc.get("stopped")
        return cls(
            image=doc["image"],
            digest=doc["digest"],
            environments=envs,
            config=list(doc.get("config", [])),
            stopped=Stopped(**stopped) if stopped else None,
            note=str(doc.get("note", "")),
            chosen=doc.get("chosen"),
        )
