"""The patchwarden JSON contract and the human table."""

from __future__ import annotations

import json

from patchwarden.sbom import ReportFormat, render
from patchwarden.sbom.json_report import write_json
from patchwarden.sbom.model import ScanReport
from patchwarden.sbom.table import write_table
from testkit.sbom_data import FINDINGS, PACKAGES

PKG_KEYS = {"name", "version", "type", "purl", "layer", "path", "source_name"}
VULN_KEYS = {
    "id",
    "aliases",
    "package",
    "installed_version",
    "fixed_version",
    "severity",
    "ecosystem",
    "status",
}


def test_json_contract_keys(report: ScanReport) -> None:
    data = json.loads(write_json(report))
    assert {"image", "os", "packages", "vulnerabilities", "summary", "digest", "platform"} <= set(
        data
    )
    assert data["os"] == {
        "id": "debian",
        "version_id": "12",
        "pretty_name": "Debian GNU/Linux 12 (bookworm)",
        "version_codename": "bookworm",
    }
    assert len(data["packages"]) == len(PACKAGES)
    assert all(set(p) >= PKG_KEYS for p in data["packages"])
    assert all(set(v) >= VULN_KEYS for v in data["vulnerabilities"])
    assert data["summary"]["by_severity"] == {
        "critical": 1,
        "high": 1,
        "medium": 3,
        "low": 1,
        "unknown": 1,
    }
    assert data["summary"]["by_status"]["will-not-fix"] == 1
    assert data["summary"]["ignored"] == 1 and data["summary"]["hidden_by_filters"] == 2
    assert data["ignored"][0]["ignore"]["expires"] == "2026-12-31"


def test_json_order_unicode_and_nulls(report: ScanReport) -> None:
    text = write_json(report)
    assert "pÿthön-ünïcode" in text  # not \u-escaped
    data = json.loads(text)
    assert [v["severity"] for v in data["vulnerabilities"]][:2] == ["critical", "high"]
    requests = [p for p in data["packages"] if p["name"] == "requests"]
    assert len(requests) == 2 and requests[0]["source_name"] is None
    scoped = next(p for p in data["packages"] if p["name"] == "@babel/core")
    assert scoped["purl"] == "pkg:npm/%40babel/core@7.22.0"
    nofix = next(v for v in data["vulnerabilities"] if v["status"] == "no-fix")
    assert nofix["fixed_version"] is None


def test_json_sbom_only(sbom_report: ScanReport) -> None:
    data = json.loads(write_json(sbom_report))
    assert data["matched"] is False and data["vulnerabilities"] == []
    assert data["filters"]["sbom_only"] is True


def test_table_sections_in_fix_first_order(report: ScanReport) -> None:
    text = write_table(report)
    up, nofix, wnf = (text.index(s) for s in ("Upgrade available", "No fix exists", "Will not fix"))
    assert up < nofix < wnf
    assert "  libssl3 3.0.11-1~deb12u1  (deb; source openssl)\n" in text
    assert "    upgrade to 3.0.14-1~deb12u1 fixes all 2\n" in text
    assert "    in /var/lib/dpkg/status, layer 111111111111\n" in text
    # highest severity first within a package, the fix per CVE when fixes differ
    assert text.index("critical  CVE-2024-0001") < text.index("medium    CVE-2024-0002")
    assert "fixed in 3.0.14-1~deb12u1" in text
    assert "Ignored (1)" in text and "until 2026-12-31" in text
    assert text.rstrip().splitlines()[-1] == (
        "7 vulnerabilities: 1 critical, 1 high, 3 medium, 1 low; 5 fixable, 1 unrated, "
        "1 ignored, 2 filtered"
    )


def test_table_fits_100_columns(report: ScanReport) -> None:
    assert all(len(line) <= 100 for line in write_table(report).splitlines())
    assert all(len(line) <= 60 for line in write_table(report, width=60).splitlines())


def test_table_sbom_only_lists_packages_by_type(sbom_report: ScanReport) -> None:
    text = write_table(sbom_report)
    assert "deb (2)" in text and "python (3)" in text and "npm (1)" in text
    assert text.rstrip().endswith("6 packages: 3 python, 2 deb, 1 npm")
    assert "Upgrade available" not in text


def test_table_empty(empty_report: ScanReport) -> None:
    text = write_table(empty_report)
    assert "unknown OS, 0 packages, 0 layers" in text
    assert "No vulnerabilities found." in text


def test_render_dispatches_every_format(report: ScanReport) -> None:
    for fmt in ReportFormat:
        out = render(report, fmt)
        assert isinstance(out, str) and out.endswith("\n")
        if fmt != ReportFormat.table:
            json.loads(out)
    assert len(FINDINGS) == 7
