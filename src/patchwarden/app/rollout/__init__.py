"""Staged rollouts (``rollout start / resume / approve / abort / rollback / status``): one
digest through the configured environments, in waves (:mod:`.waves`), gated (:mod:`.gates`,
:mod:`.prometheus`), on engine targets (:mod:`.engine_target`), undone (:mod:`.undo`) and
recorded (:mod:`.model`, :mod:`.report`). The procedure and its crash safety are described in
:mod:`.runner`; the use case's entry point is :class:`.service.Rollouts`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwarden.app.exports import lazy_exports

if TYPE_CHECKING:
    from patchwarden.app.rollout.model import (
        EnvStatus,
        GateName,
        RolloutState,
        RolloutStatus,
        WaveStatus,
        Where,
    )
    from patchwarden.app.rollout.prometheus import MetricsSource, Prometheus, Sample
    from patchwarden.app.rollout.report import Report
    from patchwarden.app.rollout.service import Rollouts
    from patchwarden.app.rollout.waves import canary_size, plan_waves

EXPORTS = {
    "model": ("EnvStatus", "GateName", "RolloutState", "RolloutStatus", "WaveStatus", "Where"),
    "prometheus": ("MetricsSource", "Prometheus", "Sample"),
    "report": ("Report",),
    "service": ("Rollouts",),
    "waves": ("canary_size", "plan_waves"),
}
__all__ = [
    "EnvStatus",
    "GateName",
    "MetricsSource",
    "Prometheus",
    "Report",
    "RolloutState",
    "RolloutStatus",
    "Rollouts",
    "Sample",
    "WaveStatus",
    "Where",
    "canary_size",
    "plan_waves",
]
__getattr__ = lazy_exports(__name__, EXPORTS)
