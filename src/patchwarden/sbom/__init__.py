"""Report writers: table, JSON, CycloneDX, SPDX and SARIF, one module per format.

Each writer takes a :class:`~patchwarden.sbom.model.ScanReport` and returns a ``str``.
:func:`render` picks one by format name; the SBOM libraries are imported only when used.
"""

from __future__ import annotations

from enum import StrEnum

from patchwarden.sbom.model import ScanReport


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    cyclonedx = "cyclonedx"  # CycloneDX 1.6 JSON
    cyclonedx_1_5 = "cyclonedx-1.5"
    spdx = "spdx"  # SPDX 2.3 JSON
    sarif = "sarif"  # SARIF 2.1.0


def render(report: ScanReport, fmt: ReportFormat, *, width: int = 100) -> str:
    if fmt == ReportFormat.table:
        from patchwarden.core.text import printable
        from patchwarden.sbom.table import write_table

        return printable(write_table(report, width=width))  # read on a terminal
    if fmt == ReportFormat.json:
        from patchwarden.sbom.json_report import write_json

        return write_json(report)
    if fmt in (ReportFormat.cyclonedx, ReportFormat.cyclonedx_1_5):
        from patchwarden.sbom.cyclonedx import write_cyclonedx

        return write_cyclonedx(report, "1.5" if fmt == ReportFormat.cyclonedx_1_5 else "1.6")
    if fmt == ReportFormat.spdx:
        from patchwarden.sbom.spdx import write_spdx

        return write_spdx(report)
    from patchwarden.sbom.sarif import write_sarif

    return write_sarif(report)
