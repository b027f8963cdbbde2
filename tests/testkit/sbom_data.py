"""Hand-built inventories and findings for the writer tests (no engine involved)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from patchwarden.sbom.model import IgnoredFinding
from patchwarden.scan.model import (
    Finding,
    FindingStatus,
    ImageInfo,
    LayerRef,
    OSInfo,
    Package,
    PackageType,
    ScanInventory,
    Severity,
)

L1 = "sha256:" + "1" * 64
L2 = "sha256:" + "2" * 64
NOW = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)

OPENSSL = Package(
    "libssl3",
    "3.0.11-1~deb12u1",
    PackageType.DEB,
    "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12",
    L1,
    "var/lib/dpkg/status",
    source_name="openssl",
    arch="amd64",
)
ZLIB = Package(
    "zlib1g",
    "1:1.2.13.dfsg-1",
    PackageType.DEB,
    "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
    L1,
    "var/lib/dpkg/status",
    source_name="zlib",
)
UNICODE = Package(
    "pÿthön-ünïcode",
    "1.0",
    PackageType.PYTHON,
    "pkg:pypi/p%C3%BFth%C3%B6n-%C3%BCn%C3%AFcode@1.0",
    L2,
    "usr/lib/python3/dist-packages/pÿthön_ünïcode-1.0.dist-info/METADATA",
    licenses=("MIT",),
)
SCOPED = Package(
    "@babel/core",
    "7.22.0",
    PackageType.NPM,
    "pkg:npm/%40babel/core@7.22.0",
    L2,
    "app/node_modules/@babel/core/package.json",
)
NOSOURCE = Package(
    "requests",
    "2.31.0",
    PackageType.PYTHON,
    "pkg:pypi/requests@2.31.0",
    L2,
    "usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA",
)
DUP = Package(
    "requests",
    "2.31.0",
    PackageType.PYTHON,
    "pkg:pypi/requests@2.31.0",
    L2,
    "opt/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
)
PACKAGES = (OPENSSL, ZLIB, UNICODE, SCOPED, NOSOURCE, DUP)


def finding(
    pkg: Package,
    vid: str,
    severity: Severity,
    status: FindingStatus,
    fixed: str | None = None,
    *,
    ecosystem: str = "Debian:12",
    aliases: tuple[str, ...] = (),
    summary: str = "",
    cvss_score: float | None = None,
    severity_source: str = "",
    url: str | None = None,
) -> Finding:
    return Finding(
        id=vid,
        aliases=aliases,
        package=pkg,
        installed_version=pkg.version,
        fixed_version=fixed,
        status=status,
        severity=severity,
        ecosystem=ecosystem,
        summary=summary,
        cvss_score=cvss_score,
        severity_source=severity_source,
        url=url,
    )


FINDINGS = (
    finding(
        OPENSSL,
        "CVE-2024-0001",
        Severity.CRITICAL,
        FindingStatus.FIXED,
        "3.0.13-1~deb12u1",
        summary="Buffer overflow in X.509 — “quoted”",
        cvss_score=9.8,
        severity_source="cvss_v3",
        url="https://security-tracker.debian.org/tracker/CVE-2024-0001",
        aliases=("DSA-5000-1",),
    ),
    finding(OPENSSL, "CVE-2024-0002", Severity.MEDIUM, FindingStatus.FIXED, "3.0.14-1~deb12u1"),
    finding(
        ZLIB,
        "CVE-2023-45853",
        Severity.HIGH,
        FindingStatus.WILL_NOT_FIX,
        summary="MiniZip integer overflow",
    ),
    finding(
        SCOPED,
        "GHSA-67hx-6x53-jw92",
        Severity.LOW,
        FindingStatus.FIXED,
        "7.23.2",
        ecosystem="npm",
        aliases=("CVE-2023-45133",),
    ),
    finding(UNICODE, "PYSEC-2024-1", Severity.UNKNOWN, FindingStatus.NO_FIX, ecosystem="PyPI"),
    finding(
        NOSOURCE, "CVE-2024-35195", Severity.MEDIUM, FindingStatus.FIXED, "2.32.0", ecosystem="PyPI"
    ),
    finding(
        DUP, "CVE-2024-35195", Severity.MEDIUM, FindingStatus.FIXED, "2.32.0", ecosystem="PyPI"
    ),
)
IGNORED = (
    IgnoredFinding(
        finding(ZLIB, "CVE-2022-37434", Severity.CRITICAL, FindingStatus.FIXED, "1:1.2.13.dfsg-2"),
        "not reachable: no inflateGetHeader callers",
        date(2026, 12, 31),
        ".patchwarden-vulnignore.yaml:3",
    ),
)


def inventory(os: OSInfo | None = None, packages: tuple[Package, ...] = PACKAGES) -> ScanInventory:
    image = ImageInfo(
        "registry.example/app:1.0",
        "sha256:" + "a" * 64,
        "linux/amd64",
        (
            LayerRef(L1, "application/vnd.oci.image.layer.v1.tar+gzip", 100),
            LayerRef(L2, "application/vnd.oci.image.layer.v1.tar+gzip", 200),
        ),
    )
    os = os or OSInfo("debian", "12", "Debian GNU/Linux 12 (bookworm)", "bookworm")
    return ScanInventory(image, os, packages, ())
