"""The hostile-input suite: every case runs the CLI in its own process (see hostile_helpers)."""

from __future__ import annotations

import gzip

import pytest

from testkit.hostile_helpers import dpkg_status, oci_layout, reg, run_cli, tar_of

FACTOR = 3.0  # a hostile input may cost at most this many times an honest scan's memory


@pytest.fixture(scope="session")
def baseline_mib(tmp_path_factory: pytest.TempPathFactory) -> float:
    """Peak memory of an honest scan (300 dpkg packages, os-release), measured now, here."""
    work = tmp_path_factory.mktemp("baseline")
    layer = tar_of(
        [
            reg("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
            reg("var/lib/dpkg/status", dpkg_status(300)),
        ]
    )
    oci_layout(work / "img", [gzip.compress(layer)])
    run = run_cli("scan", "--oci-layout", "img:hostile", "--sbom-only", "-f", "json", cwd=work)
    assert run.code == 0, run.stderr
    assert len(run.json()["packages"]) == 300
    return run.peak_mib


@pytest.fixture
def bound(baseline_mib: float) -> float:
    return FACTOR * baseline_mib
