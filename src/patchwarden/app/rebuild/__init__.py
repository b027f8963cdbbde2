"""``rebuild``: rebuild the team's own images when their base moved or fixes are available.

Public names: :class:`DueChecker` (``rebuild --check``), :class:`Rebuilder` (the pipeline),
the spec builders and the result types. Concrete tools (buildah, podman, skopeo) are made in
:mod:`patchwarden.app.wiring`.
"""

from __future__ import annotations

from patchwarden.app.rebuild.due import DueChecker, forced
from patchwarden.app.rebuild.model import (
    BuildResult,
    BuildSpec,
    DueDecision,
    DueReason,
    Outcome,
    Reason,
    Step,
)
from patchwarden.app.rebuild.pipeline import Rebuilder, Tools
from patchwarden.app.rebuild.spec import from_directory, specs

__all__ = [
    "BuildResult",
    "BuildSpec",
    "DueChecker",
    "DueDecision",
    "DueReason",
    "Outcome",
    "Reason",
    "Rebuilder",
    "Step",
    "Tools",
    "forced",
    "from_directory",
    "specs",
]
