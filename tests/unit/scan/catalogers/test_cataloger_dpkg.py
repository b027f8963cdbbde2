from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from patchwarden.scan.catalogers.dpkg import DpkgCataloger
from patchwarden.scan.model import PackageType
from testkit.cataloger_helpers import FIXTURES, entry, walk
from testkit.tools import require_tool, unavailable

CAT = DpkgCataloger()

STATUS = b"""\
Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6128
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
 .
 Version: 9.9 is not a field: this is a continuation line
Homepage: https://www.openssl.org/

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
Conffiles:
 /etc/foo 0123456789abcdef0123456789abcdef

\t
Package: perl-base
Status: hold ok installed
Architecture: amd64
Source: perl
Version: 1:5.36.0-7+deb12u1

Package: libsystemd0
Status: install ok installed
Architecture: amd64
Source: systemd (252.22-1~deb12u1)
Version: 252.22-1~deb12u1+b1

Package: half-installed
Status: install reinstreq half-installed
Architecture: amd64
Version: 2
"""


def test_wants() -> None:
    assert CAT.wants("var/lib/dpkg/status", 0o644, 1)
    assert CAT.wants("var/lib/dpkg/status.d/libssl3", 0o644, 1)
    assert CAT.wants("var/lib/dpkg/status.d/libssl3.md5sums", 0o644, 1)
    assert CAT.wants("var/lib/dpkg/info/coreutils.list", 0o644, 1)
    assert CAT.wants("var/lib/dpkg/info/libc6:amd64.md5sums", 0o644, 1)
    assert not CAT.wants("var/lib/dpkg/status-old", 0o644, 1)
    assert not CAT.wants("var/lib/dpkg/info/coreutils.postinst", 0o644, 1)
    assert not CAT.wants("var/lib/dpkg/info/sub/x.list", 0o644, 1)
    assert not CAT.wants("var/lib/dpkg/status.d/sub/x", 0o644, 1)
    assert not CAT.wants("opt/var/lib/dpkg/status", 0o644, 1)


def test_status() -> None:
    facts = CAT.catalog(entry("var/lib/dpkg/status", STATUS))
    got = {(p.name, p.version, p.arch, p.source_name, p.source_version) for p in facts.packages}
    assert got == {
        ("libssl3", "3.0.11-1~deb12u2", "amd64", "openssl", "3.0.11-1~deb12u2"),
        ("libgcc-s1", "12.2.0-14", "amd64", "gcc-12", "12.2.0-14"),
        ("perl-base", "1:5.36.0-7+deb12u1", "amd64", "perl", "1:5.36.0-7+deb12u1"),
        ("libsystemd0", "252.22-1~deb12u1+b1", "amd64", "systemd", "252.22-1~deb12u1"),
    }
    purls = {p.name: p.purl for p in facts.packages}
    assert purls["libssl3"] == "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64"
    assert purls["perl-base"] == "pkg:deb/debian/perl-base@1:5.36.0-7%2Bdeb12u1?arch=amd64"
    assert all(p.type is PackageType.DEB for p in facts.packages)
    assert facts.owned_paths == ()


def test_crlf_and_missing_trailing_newline() -> None:
    data = b"Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\nArchitecture: all"
    facts = CAT.catalog(entry("var/lib/dpkg/status", data))
    assert [(p.name, p.version, p.arch) for p in facts.packages] == [("a", "1", "all")]


def test_list_and_md5sums() -> None:
    lst = b"/.\n/usr\n/usr/bin\n/usr/bin/ls\n/usr/share/doc/coreutils\n"
    facts = CAT.catalog(entry("var/lib/dpkg/info/coreutils.list", lst))
    assert facts.owned_paths == ("usr", "usr/bin", "usr/bin/ls", "usr/share/doc/coreutils")
    md5 = b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/ls\nbad line\n"
    facts = CAT.catalog(entry("var/lib/dpkg/info/coreutils.md5sums", md5))
    assert facts.owned_paths == ("usr/bin/ls",)
    assert facts.packages == ()


def test_distroless_status_d() -> None:
    facts = walk(CAT, FIXTURES / "distroless")
    pkgs = {
        (p.name, p.version, p.arch, p.source_name, p.source_version)
        for f in facts.values()
        for p in f.packages
    }
    assert pkgs == {
        ("base-files", "12.4+deb12u5", "amd64", "base-files", "12.4+deb12u5"),
        ("libssl3", "3.0.11-1~deb12u2", "amd64", "openssl", "3.0.11-1~deb12u2"),
        ("libc6", "2.36-9+deb12u4", "amd64", "glibc", "2.36-9+deb12u4"),
        ("tzdata", "2024a-0+deb12u1", "all", "tzdata", "2024a-0+deb12u1"),
    }
    owned = facts["var/lib/dpkg/status.d/libssl3.md5sums"].owned_paths
    assert "usr/lib/x86_64-linux-gnu/libssl.so.3" in owned
    assert len(owned) == 4


def _real_status() -> Path:
    status = Path("/var/lib/dpkg/status")
    if not status.is_file():
        require_tool("dpkg-query")  # fails under CI, skips elsewhere
        unavailable("no dpkg database at /var/lib/dpkg/status (CI runs on Debian)")
    return status


def test_ground_truth_machine_status() -> None:
    """This machine's dpkg database, against dpkg-query (the real tool)."""
    status = _real_status()
    dpkg_query = require_tool("dpkg-query")
    fmt = "${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n"
    out = subprocess.run(
        [dpkg_query, "-W", "-f", fmt], check=True, capture_output=True, text=True
    ).stdout
    expected = []
    for line in out.splitlines():
        name, version, arch, sname, sversion, abbrev = line.split("\t")
        if len(abbrev) >= 2 and abbrev[1] == "i":  # state: installed
            expected.append((name, version, arch, sname, sversion))
    data = status.read_bytes()
    facts = CAT.catalog(entry("var/lib/dpkg/status", data))
    got = [(p.name, p.version, p.arch, p.source_name, p.source_version) for p in facts.packages]
    assert len(got) == len(expected)
    assert sorted(got) == sorted(expected)


def test_ground_truth_list_file() -> None:
    _real_status()
    dpkg_query = require_tool("dpkg-query")
    info = Path("/var/lib/dpkg/info")
    lists = sorted(info.glob("base-files.list")) or sorted(info.glob("*.list"))[:1]
    if not lists:
        unavailable("no .list files in /var/lib/dpkg/info (a slim image; CI runs on full Debian)")
    pkg = lists[0].name.removesuffix(".list")
    out = subprocess.run([dpkg_query, "-L", pkg], check=True, capture_output=True, text=True).stdout
    expected = [
        line.lstrip("/") for line in out.splitlines() if line.startswith("/") and line != "/."
    ]
    facts = CAT.catalog(entry(f"var/lib/dpkg/info/{lists[0].name}", lists[0].read_bytes()))
    assert list(facts.owned_paths) == expected


def test_status_with_more_packages_than_any_real_database_stops_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pytest

    from patchwarden.scan.catalogers import dpkg
    from patchwarden.scan.errors import TooManyFacts
    from patchwarden.scan.model import FileEntry

    monkeypatch.setattr(dpkg, "MAX_PACKAGES", 50)
    text = "".join(
        f"Package: p{i}\nStatus: install ok installed\nVersion: 1\n\n" for i in range(80)
    )
    entry = FileEntry(dpkg.STATUS, text.encode(), 0o100644, len(text))
    with pytest.raises(TooManyFacts, match="more than 50 packages"):
        dpkg.DpkgCataloger().catalog(entry)
    monkeypatch.setattr(dpkg, "MAX_PATHS", 10)
    lst = "".join(f"/usr/f{i}\n" for i in range(20)).encode()
    with pytest.raises(TooManyFacts, match="more than 10 paths"):
        dpkg.DpkgCataloger().catalog(FileEntry(dpkg.INFO + "a.list", lst, 0o100644, len(lst)))
