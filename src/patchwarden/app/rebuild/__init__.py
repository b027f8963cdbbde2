"""``rebuild``: rebuild the team's own images when their base moved or fixes are available.

Public names: :class:`DueChecker` (``rebuild --check``), :class:`Rebuilder` (the pipeline),
the spec builders and the result types. Concrete tools (buildah, podman, skopeo) are made in
:mod:`patchwarden.app.wiring`. Names are imported on first use (``rebuild --check`` never
loads the pipeline, the signer or the scanner).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwarden.app.exports import lazy_exports

if TYPE_CHECKING:
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

EXPORTS = {
    "due": ("DueChecker", "forced"),
    "model": ("BuildResult", "BuildSpec", "DueDecision", "DueReason", "Outcome", "Reason", "Step"),
    "pipeline": ("Rebuilder", "Tools"),
    "spec": ("from_directory", "specs"),
}
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
__getattr__ = lazy_exports(__name__, EXPORTS)
