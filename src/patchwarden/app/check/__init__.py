"""The ``check`` use case: per reference, the newest version the policy allows, and with
``--vulns`` which CVEs each candidate fixes and introduces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwarden.app.exports import lazy_exports

if TYPE_CHECKING:
    from patchwarden.app.check.checker import Checker, platform_for
    from patchwarden.app.check.results import CheckReport, CheckResult, Status, Version
    from patchwarden.app.check.vulns import Assessment, Option, VulnAssessor, by_severity

EXPORTS = {
    "checker": ("Checker", "platform_for"),
    "results": ("CheckReport", "CheckResult", "Status", "Version"),
    "vulns": ("Assessment", "Option", "VulnAssessor", "by_severity"),
}
__all__ = [
    "Assessment",
    "CheckReport",
    "CheckResult",
    "Checker",
    "Option",
    "Status",
    "Version",
    "VulnAssessor",
    "by_severity",
    "platform_for",
]
__getattr__ = lazy_exports(__name__, EXPORTS)
