"""Severity from the best source: the record, then alias records in the index, then NVD/CVE
data imported with ``db import`` (real records in tests/fixtures/cve, see SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

from patchwarden.advisories.cve_import import kind_of, metrics_of
from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.match import match
from patchwarden.core.jsonfmt import loads
from patchwarden.scan.model import OSInfo, PackageType, Severity
from testkit.advisory_helpers import FIXTURES, pkg

CVE_FIXTURES = FIXTURES.parent / "cve"
ALPINE = OSInfo("alpine", "3.23.0")


def _curl_38545(index: AdvisoryIndex) -> Severity | None:
    curl = pkg("curl", "8.3.0-r0", PackageType.APK, source_name="curl")
    hit = [f for f in match(index, [curl], ALPINE) if f.id == "CVE-2023-38545"]
    assert len(hit) == 1
    return hit[0].severity


def test_parsers_read_real_nvd_and_cve5_records() -> None:
    nvd = loads((CVE_FIXTURES / "nvd/CVE-2023-38545.json").read_bytes())
    cve5 = loads((CVE_FIXTURES / "cve5/CVE-2023-32681.json").read_bytes())
    assert (kind_of(nvd), kind_of(cve5)) == ("NVD", "CVE")
    (m,) = metrics_of(nvd, "NVD")
    assert (m.cve_id, m.kind, m.score, m.source) == (
        "CVE-2023-38545",
        "CVSS_V3",
        9.8,
        "nvd@nist.gov",
    )
    (m,) = metrics_of(cve5, "CVE")
    assert (m.cve_id, m.kind, m.score, m.source) == ("CVE-2023-32681", "CVSS_V3", 6.1, "GitHub_M")
    # an OSV record is none of these, even one whose id is a CVE (Ubuntu's older form)
    assert kind_of(loads((FIXTURES / "Ubuntu/CVE-2022-37434.json").read_bytes())) is None


def test_nvd_import_rates_what_no_osv_record_rates(tmp_path: Path) -> None:
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    import_sources(index, [str(FIXTURES / "Alpine")])
    assert _curl_38545(index) is Severity.UNKNOWN  # Alpine's records carry no severity
    report = import_sources(index, [str(CVE_FIXTURES)])
    # 6 NVD records (4 with a second metric: CISA-ADP or CVSS v2) and 1 CVE JSON 5 record: 11 scores
    assert report.cve_scores == 11 and {"NVD", "CVE"} <= report.ecosystems
    curl = pkg("curl", "8.3.0-r0", PackageType.APK, source_name="curl")
    (f,) = [f for f in match(index, [curl], ALPINE) if f.id == "CVE-2023-38545"]
    assert (f.severity, f.severity_source, f.cvss_score) == (Severity.CRITICAL, "nvd cvss_v3", 9.8)
    status = {s.ecosystem: s.record_count for s in index.status()}
    assert status["NVD"] == 6 and status["CVE"] == 1
    index.close()


def test_alias_record_rates_before_nvd(full_index: AdvisoryIndex) -> None:
    """UBUNTU-CVE-2023-38545 (in the full fixture index) rates the CVE that the Alpine record
    only names: the alias record's rating is used, and says where it came from."""
    curl = pkg("curl", "8.3.0-r0", PackageType.APK, source_name="curl")
    (f,) = [f for f in match(full_index, [curl], ALPINE) if f.id == "CVE-2023-38545"]
    assert f.severity is not Severity.UNKNOWN
    assert f.severity_source.endswith("via UBUNTU-CVE-2023-38545")
    assert f.records == ("ALPINE-CVE-2023-38545",)


def test_alias_table_is_built_for_an_older_index(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    index = AdvisoryIndex(path, create=True)
    import_sources(index, [str(FIXTURES / "Ubuntu"), str(FIXTURES / "Alpine")])
    index.close()
    with sqlite3.connect(path) as conn:  # as an index written before the aliases table
        conn.execute("DROP TABLE aliases")
    with AdvisoryIndex(path) as reopened:
        assert (
            "UBUNTU-CVE-2023-38545"
            in reopened.records_by_alias(["CVE-2023-38545"])["CVE-2023-38545"]
        )
