"""Writer-test fixtures over the hand-built data in :mod:`testkit.sbom_data`."""

from __future__ import annotations

import pytest

from patchwarden.sbom.model import Filters, ScanReport
from patchwarden.scan.model import ImageInfo, ScanInventory
from testkit.sbom_data import FINDINGS, IGNORED, NOW, inventory


@pytest.fixture
def report() -> ScanReport:
    return ScanReport(
        inventory(),
        FINDINGS,
        NOW,
        "0.1.0",
        IGNORED,
        Filters(ignore_file=".patchwarden-vulnignore.yaml", hidden=2),
    )


@pytest.fixture
def sbom_report() -> ScanReport:
    return ScanReport(inventory(), (), NOW, "0.1.0", (), Filters(sbom_only=True))


@pytest.fixture
def empty_report() -> ScanReport:
    inv = ScanInventory(ImageInfo("rootfs:/tmp/x", None, None, ()), None, (), ())
    return ScanReport(inv, (), NOW, "0.1.0")
