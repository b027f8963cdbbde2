"""Matching, checked by hand against the fixture records (each test names its record/range)."""

from __future__ import annotations

from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.match import evaluate, match
from patchwarden.advisories.osv import parse_record
from patchwarden.sbom.model import upgrades
from patchwarden.scan.model import Finding, FindingStatus, OSInfo, PackageType, Severity
from patchwarden.versions.ecosystems import compare, sort_key
from testkit.advisory_helpers import FIXTURES, pkg

DEBIAN_11 = OSInfo("debian", "11")
UBUNTU_22 = OSInfo("ubuntu", "22.04")


def by_record(findings: list[Finding], record: str) -> Finding:
    hits = [f for f in findings if record in f.records]
    assert len(hits) == 1, [f.records for f in findings]
    return hits[0]


def records_of(findings: list[Finding]) -> set[str]:
    return {r for f in findings for r in f.records}


def test_debian_matches_on_source_package(full_index: AdvisoryIndex) -> None:
    # DSA-5197-1: curl fixed 7.74.0-1.3+deb11u2 in Debian:11; the binary libcurl4 is built
    # from source curl 7.74.0-1.3+deb11u1 -> fixed, upgrade to 7.74.0-1.3+deb11u2.
    libcurl = pkg(
        "libcurl4",
        "7.74.0-1.3+deb11u1",
        PackageType.DEB,
        source_name="curl",
        source_version="7.74.0-1.3+deb11u1",
    )
    f = by_record(match(full_index, [libcurl], DEBIAN_11), "DSA-5197-1")
    assert f.status is FindingStatus.FIXED
    assert f.fixed_version == "7.74.0-1.3+deb11u2"
    assert f.ecosystem == "Debian:11"
    assert "CVE-2022-32208" in f.aliases  # DSA upstream CVEs are aliases
    # Without source_name the binary name "libcurl4" is used, which no Debian record names.
    assert (
        match(full_index, [pkg("libcurl4", "7.74.0-1.3+deb11u1", PackageType.DEB)], DEBIAN_11) == []
    )


def test_debian_fixed_version_is_not_affected(full_index: AdvisoryIndex) -> None:
    # DSA-5197-1 fixed 7.74.0-1.3+deb11u2: that version is out of the range; DSA-5330-1
    # (fixed deb11u5) still applies.
    curl = pkg("curl", "7.74.0-1.3+deb11u2", PackageType.DEB)
    found = records_of(match(full_index, [curl], DEBIAN_11))
    assert "DSA-5197-1" not in found and "DSA-5330-1" in found


def test_no_os_no_os_findings(full_index: AdvisoryIndex) -> None:
    assert match(full_index, [pkg("curl", "7.74.0-1.3+deb11u1", PackageType.DEB)], None) == []


def test_alpine_matches_origin(full_index: AdvisoryIndex) -> None:
    # ALPINE-CVE-2025-9086: curl (origin of libcurl) fixed 8.14.1-r2 in Alpine:v3.19 (8.16.0-r0
    # in v3.23); installed 8.14.1-r1 on 3.19.1 -> fixed 8.14.1-r2, id from upstream CVE.
    libcurl = pkg("libcurl", "8.14.1-r1", PackageType.APK, source_name="curl")
    f = by_record(match(full_index, [libcurl], OSInfo("alpine", "3.19.1")), "ALPINE-CVE-2025-9086")
    assert (f.id, f.fixed_version, f.ecosystem) == ("CVE-2025-9086", "8.14.1-r2", "Alpine:v3.19")
    assert f.status is FindingStatus.FIXED


def test_ubuntu_fixed_and_distro_severity_wins(full_index: AdvisoryIndex) -> None:
    # UBUNTU-CVE-2023-38545: Ubuntu:22.04:LTS curl fixed 7.81.0-1ubuntu1.14, ubuntu_priority
    # high, record CVSS v3 9.8 (critical) -> distro severity high wins, cvss_score 9.8.
    curl = pkg("curl", "7.81.0-1ubuntu1.13", PackageType.DEB, source_name="curl")
    f = by_record(match(full_index, [curl], UBUNTU_22), "UBUNTU-CVE-2023-38545")
    assert f.id == "CVE-2023-38545"  # UBUNTU-CVE-X -> CVE-X
    assert (f.fixed_version, f.ecosystem) == ("7.81.0-1ubuntu1.14", "Ubuntu:22.04:LTS")
    assert (f.severity, f.severity_source, f.cvss_score) == (Severity.HIGH, "distro", 9.8)


def test_ubuntu_versions_only_is_no_fix(full_index: AdvisoryIndex) -> None:
    # CVE-2022-48174: Ubuntu:22.04:LTS busybox has only introduced 0 + versions (no fix);
    # 1:1.30.1-7ubuntu3 is listed -> no-fix; no ubuntu_priority on that entry -> CVSS v3 9.8.
    busybox = pkg("busybox", "1:1.30.1-7ubuntu3", PackageType.DEB)
    f = by_record(match(full_index, [busybox], UBUNTU_22), "CVE-2022-48174")
    assert f.status is FindingStatus.NO_FIX and f.fixed_version is None
    assert (f.severity, f.severity_source) == (Severity.CRITICAL, "cvss_v3")


def test_ubuntu_pro_only_when_nothing_else(full_index: AdvisoryIndex) -> None:
    # UBUNTU-CVE-2020-28928: musl exists for 16.04 only as Ubuntu:Pro:16.04:LTS, fixed
    # 1.1.9-1ubuntu0.1~esm3; installed 1.1.9-1 -> fixed via the Pro ecosystem.
    musl = pkg("musl", "1.1.9-1", PackageType.DEB)
    f = by_record(match(full_index, [musl], OSInfo("ubuntu", "16.04")), "UBUNTU-CVE-2020-28928")
    assert (f.ecosystem, f.fixed_version) == ("Ubuntu:Pro:16.04:LTS", "1.1.9-1ubuntu0.1~esm3")
    # On 20.04 the plain Ubuntu:20.04:LTS entry exists (introduced 0, no fix) -> no-fix,
    # and the Ubuntu:Pro:20.04:LTS fix is not used.
    musl20 = pkg("musl", "1.1.24-1", PackageType.DEB)
    f = by_record(match(full_index, [musl20], OSInfo("ubuntu", "20.04")), "UBUNTU-CVE-2020-28928")
    assert (f.ecosystem, f.status) == ("Ubuntu:20.04:LTS", FindingStatus.NO_FIX)


def test_pypi_alias_merge(full_index: AdvisoryIndex) -> None:
    # PYSEC-2023-74 and GHSA-j8r2-6x86-q33q (aliases of each other, CVE-2023-32681): requests
    # introduced 2.3.0 fixed 2.31.0 -> one finding, id the CVE, fixed 2.31.0, GHSA summary.
    requests = pkg("Requests", "2.30.0", PackageType.PYTHON)  # PEP 503 name normalisation
    f = by_record(match(full_index, [requests], None), "PYSEC-2023-74")
    assert f.id == "CVE-2023-32681"
    assert f.records == ("GHSA-j8r2-6x86-q33q", "PYSEC-2023-74")
    assert set(f.aliases) == {"GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"}
    assert f.fixed_version == "2.31.0"
    assert f.summary.startswith("Unintended leak of Proxy-Authorization")
    # 2.31.0 itself is fixed; 2.2.0 is below introduced 2.3.0.
    for v in ("2.31.0", "2.2.0"):
        assert "PYSEC-2023-74" not in records_of(
            match(full_index, [pkg("requests", v, PackageType.PYTHON)], None)
        )


def test_pep440_normalised_versions_list() -> None:
    # GHSA-9hjg-9r4m-mvj7 lists "0.12.01" in versions; with its ranges removed, installed
    # 0.12.1 still matches because 0.12.01 == 0.12.1 in PEP 440.
    rec = parse_record((FIXTURES / "PyPI" / "GHSA-9hjg-9r4m-mvj7.json").read_bytes())
    entry = {"versions": [v for v in rec.affected[0].versions if v.startswith("0.12.0")]}
    assert "0.12.01" in entry["versions"]
    assert evaluate("PyPI", "0.12.1", entry) == (True, None)
    assert evaluate("PyPI", "0.12.2", entry) == (False, None)


def test_invalid_pypi_version_does_not_crash(full_index: AdvisoryIndex) -> None:
    assert match(full_index, [pkg("requests", "not-a-version", PackageType.PYTHON)], None) == []


def test_npm_last_affected(full_index: AdvisoryIndex) -> None:
    # GHSA-29mw-wpgm-hmr9: lodash.trim introduced 0, last_affected 4.5.1 -> 4.5.1 affected
    # with no fix; 4.5.2 is past last_affected.
    f = by_record(
        match(full_index, [pkg("lodash.trim", "4.5.1", PackageType.NPM)], None),
        "GHSA-29mw-wpgm-hmr9",
    )
    assert f.status is FindingStatus.NO_FIX and f.fixed_version is None
    assert match(full_index, [pkg("lodash.trim", "4.5.2", PackageType.NPM)], None) == []


def test_npm_names_are_case_sensitive(full_index: AdvisoryIndex) -> None:
    # GHSA-8hc4-vh64-cxmj names "Axios" (introduced 1.3.2, fixed 1.7.4) and not "axios".
    assert "GHSA-8hc4-vh64-cxmj" in records_of(
        match(full_index, [pkg("Axios", "1.7.3", PackageType.NPM)], None)
    )
    assert "GHSA-8hc4-vh64-cxmj" not in records_of(
        match(full_index, [pkg("axios", "1.7.3", PackageType.NPM)], None)
    )


def test_npm_cvss_v3_beats_database_specific(full_index: AdvisoryIndex) -> None:
    # GHSA-qw6h-vgh9-j6wx: express fixed 4.20.0; CVSS v3 AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:L =
    # 5.0 -> medium from cvss_v3 (database_specific MODERATE is only the fallback).
    f = by_record(
        match(full_index, [pkg("express", "4.19.2", PackageType.NPM)], None), "GHSA-qw6h-vgh9-j6wx"
    )
    assert (f.severity, f.severity_source, f.cvss_score, f.fixed_version) == (
        Severity.MEDIUM,
        "cvss_v3",
        5.0,
        "4.20.0",
    )


def test_limit(full_index: AdvisoryIndex) -> None:
    # TEST-LIMIT-1 (synthetic): introduced 1.0.0, limit 2.0.0 -> 1.5.0 affected; 2.0.0 and
    # 0.9.0 are outside.
    assert "TEST-LIMIT-1" in records_of(
        match(full_index, [pkg("limited", "1.5.0", PackageType.NPM)], None)
    )
    for v in ("2.0.0", "0.9.0"):
        assert match(full_index, [pkg("limited", v, PackageType.NPM)], None) == []


def test_withdrawn_ignored(full_index: AdvisoryIndex) -> None:
    # TEST-WITHDRAWN-1 (synthetic) would affect every lodash, but it is withdrawn.
    assert "TEST-WITHDRAWN-1" not in records_of(
        match(full_index, [pkg("lodash", "4.17.20", PackageType.NPM)], None)
    )


def test_will_not_fix_and_debian_urgency(full_index: AdvisoryIndex) -> None:
    # TEST-WONTFIX-1 (synthetic): Debian:12 zlib, no fix, database_specific status no-dsa,
    # urgency low -> will-not-fix, distro severity low, id from the CVE alias.
    zlib = pkg("zlib1g", "1:1.2.13.dfsg-1", PackageType.DEB, source_name="zlib")
    f = by_record(match(full_index, [zlib], OSInfo("debian", "12")), "TEST-WONTFIX-1")
    assert (f.id, f.status, f.severity, f.severity_source) == (
        "CVE-2099-0001",
        FindingStatus.WILL_NOT_FIX,
        Severity.LOW,
        "distro",
    )


def test_go_module_and_stdlib(full_index: AdvisoryIndex) -> None:
    # GO-2021-0238: golang.org/x/net introduced 0, fixed 0.0.0-20210520170846-37e1c6afe023;
    # an older pseudo-version is affected.
    xnet = pkg("golang.org/x/net", "v0.0.0-20210428140749-89ef3d95e781", PackageType.GO)
    f = by_record(match(full_index, [xnet], None), "GO-2021-0238")
    assert f.id == "CVE-2021-33194" and f.fixed_version == "0.0.0-20210520170846-37e1c6afe023"
    # GO-2022-0969: stdlib introduced 0 fixed 1.18.6, introduced 1.19.0-0 fixed 1.19.1;
    # go1.19 -> 1.19.0 is in the second pair -> fixed 1.19.1 (not 1.18.6).
    stdlib = pkg("stdlib", "go1.19", PackageType.GO)
    f = by_record(match(full_index, [stdlib], None), "GO-2022-0969")
    assert f.fixed_version == "1.19.1"
    # go1.18.6 is fixed by the first pair and below the second introduced.
    assert "GO-2022-0969" not in records_of(
        match(full_index, [pkg("stdlib", "go1.18.6", PackageType.GO)], None)
    )


def test_maven_and_database_specific_severity(full_index: AdvisoryIndex) -> None:
    # TEST-MAVEN-1 (synthetic): log4j-core introduced 2.0-beta9 fixed 2.15.0, only
    # database_specific.severity CRITICAL -> critical from database_specific.
    log4j = pkg("log4j-core", "2.14.1", PackageType.JAVA, namespace="org.apache.logging.log4j")
    f = by_record(match(full_index, [log4j], None), "TEST-MAVEN-1")
    assert (f.fixed_version, f.severity, f.severity_source) == (
        "2.15.0",
        Severity.CRITICAL,
        "database_specific",
    )


def test_rocky_rpm_and_cvss_v2_last_resort(full_index: AdvisoryIndex) -> None:
    # TEST-ROCKY-1 (synthetic): Rocky Linux:9 openssl fixed 1:3.0.7-25.el9_3, only a CVSS v2
    # vector (7.5) -> high from cvss_v2.
    ssl = pkg("openssl-libs", "1:3.0.7-24.el9", PackageType.RPM, source_name="openssl")
    found = match(full_index, [ssl], OSInfo("rocky", "9.3"))
    assert found == []  # rpm matches on the binary name (no source-package rule for rpm)
    f = by_record(
        match(
            full_index, [pkg("openssl", "1:3.0.7-24.el9", PackageType.RPM)], OSInfo("rocky", "9.3")
        ),
        "TEST-ROCKY-1",
    )
    assert (f.fixed_version, f.severity, f.severity_source, f.cvss_score) == (
        "1:3.0.7-25.el9_3",
        Severity.HIGH,
        "cvss_v2",
        7.5,
    )


def test_finding_names_the_installed_binary_and_its_source(full_index: AdvisoryIndex) -> None:
    # a binNMU: the binary's version (+b1) is not the source's, which the records name
    libcurl = pkg(
        "libcurl4",
        "7.74.0-1.3+deb11u1+b1",
        PackageType.DEB,
        source_name="curl",
        source_version="7.74.0-1.3+deb11u1",
    )
    f = by_record(match(full_index, [libcurl], DEBIAN_11), "DSA-5197-1")
    assert f.installed_version == "7.74.0-1.3+deb11u1+b1"
    assert f.matched_version == "7.74.0-1.3+deb11u1"
    same = pkg("curl", "7.74.0-1.3+deb11u1", PackageType.DEB, source_name="curl")
    assert by_record(match(full_index, [same], DEBIAN_11), "DSA-5197-1").matched_version is None


def test_records_once_and_fixed_versions_sorted(full_index: AdvisoryIndex) -> None:
    """PYSEC-2023-74 and its alias GHSA-j8r2-6x86-q33q merge; every record id appears once and
    the fixed versions are in version order (not string order)."""
    found = match(full_index, [pkg("requests", "2.3.0", PackageType.PYTHON)], None)
    for f in found:
        assert len(f.records) == len(set(f.records)) and list(f.records) == sorted(f.records)
        key = sort_key(f.ecosystem)
        assert list(f.fixed_versions) == sorted(f.fixed_versions, key=key)
        assert f.fixed_version == (f.fixed_versions[-1] if f.fixed_versions else None)
    assert any(len(f.records) > 1 for f in found)


def test_upgrade_advice_per_package(full_index: AdvisoryIndex) -> None:
    curl = pkg("curl", "8.9.0-r0", PackageType.APK, source_name="curl")
    found = match(full_index, [curl], OSInfo("alpine", "3.23.0"))
    (advice,) = upgrades(found)
    assert advice.fixes == advice.total == len(found) == 28
    assert advice.target == max((f.fixed_version or "" for f in found), key=sort_key("Alpine"))
    assert all(compare("Alpine", f.fixed_version or "", advice.target) <= 0 for f in found)
