"""``patch``: apply the OS package upgrades that fix known vulnerabilities as one new layer.

Public names: :class:`Patcher`, :class:`PatchResult`, :func:`plan_upgrades`, :func:`openvex`.
"""

from __future__ import annotations

from patchwarden.app.patch.pipeline import Patcher, PatchResult
from patchwarden.app.patch.plan import Upgrade, plan_upgrades
from patchwarden.app.patch.vex import openvex

__all__ = ["PatchResult", "Patcher", "Upgrade", "openvex", "plan_upgrades"]
