"""patch's pure parts: which packages to upgrade, which images to refuse, the apt command and
the OpenVEX document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from patchwarden.app.patch import openvex, plan_upgrades
from patchwarden.app.patch.container import apt_script
from patchwarden.app.patch.plan import supported
from patchwarden.core.ref import parse_reference
from patchwarden.errors import UsageError
from patchwarden.scan.model import (
    Finding,
    FindingStatus,
    OSInfo,
    Package,
    PackageType,
    Severity,
)


def finding(
    vid: str,
    pkg: str,
    fixed: str | None,
    kind: PackageType = PackageType.DEB,
    status: FindingStatus = FindingStatus.FIXED,
) -> Finding:
    return Finding(
        id=vid,
        aliases=(),
        package=Package(
            name=pkg,
            version="1.0-1",
            type=kind,
            purl=f"pkg:deb/debian/{pkg}@1.0-1",
            layer="",
            path="",
        ),
        installed_version="1.0-1",
        fixed_version=fixed,
        status=status,
        severity=Severity.HIGH,
        ecosystem="Debian:11",
    )


def test_plan_takes_the_highest_fixed_version_per_binary_package() -> None:
    plan = plan_upgrades(
        [
            finding("CVE-1", "libssl1.1", "1.0-3"),
            finding("CVE-2", "libssl1.1", "1.0-10"),
            finding("CVE-3", "zlib1g", "1:1.0-2"),
            finding("CVE-4", "curl", None, status=FindingStatus.NO_FIX),
            finding("CVE-5", "requests", "2.0", kind=PackageType.PYTHON),
        ]
    )
    assert [(u.package, u.fixed, u.vulnerabilities) for u in plan] == [
        ("libssl1.1", "1.0-10", ("CVE-1", "CVE-2")),
        ("zlib1g", "1:1.0-2", ("CVE-3",)),
    ]


def test_unsupported_images_are_refused_with_the_reason() -> None:
    supported(OSInfo("debian", "11"), [])
    supported(OSInfo("linuxmint", "21", id_like=("ubuntu", "debian")), [])
    with pytest.raises(UsageError, match=r"does not support Alpine Linux v3.19 images \(apk\)"):
        supported(OSInfo("alpine", "3.19.1", "Alpine Linux v3.19"), [])
    with pytest.raises(UsageError, match=r"rpm/dnf"):
        supported(OSInfo("rocky", "9.3"), [])
    with pytest.raises(UsageError, match="no /etc/os-release"):
        supported(None, [])


def test_apt_script_upgrades_only_the_named_packages_and_rejects_odd_names() -> None:
    argv = apt_script(["libssl1.1", "zlib1g"])
    assert argv[:2] == ["/bin/sh", "-c"]
    assert "--only-upgrade --no-install-recommends" in argv[2]
    assert argv[2].count("libssl1.1 zlib1g") == 1
    assert "Dir::State::Lists=/tmp/.patchwarden-apt/lists" in argv[2]
    with pytest.raises(UsageError, match="invalid name"):
        apt_script(["zlib1g; rm -rf /"])


def test_openvex_document() -> None:
    image = parse_reference("registry.example.com/team/app:1.4-patched")
    doc = openvex(
        image,
        "sha256:" + "ab" * 32,
        [
            ("CVE-1", "pkg:deb/debian/libssl1.1@1.1.1w"),
            ("CVE-1", "pkg:deb/debian/openssl@1.1.1w"),
            ("CVE-2", "pkg:deb/debian/zlib1g@1.2"),
        ],
        datetime(2026, 12, 2, 7, 0, tzinfo=UTC),
    )
    assert doc["@context"] == "https://openvex.dev/ns/v0.2.0"
    assert doc["@id"].startswith("urn:uuid:") and doc["timestamp"] == "2026-12-02T07:00:00Z"
    first = doc["statements"][0]
    assert first["vulnerability"] == {"name": "CVE-1"} and first["status"] == "fixed"
    product = first["products"][0]
    assert product["@id"] == (
        "pkg:oci/app@sha256%3A" + "ab" * 32 + "?repository_url=registry.example.com/team/app"
    )
    assert [s["@id"] for s in product["subcomponents"]] == [
        "pkg:deb/debian/libssl1.1@1.1.1w",
        "pkg:deb/debian/openssl@1.1.1w",
    ]
    assert [s["vulnerability"]["name"] for s in doc["statements"]] == ["CVE-1", "CVE-2"]
