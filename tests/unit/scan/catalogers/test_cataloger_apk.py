from __future__ import annotations

from patchwarden.scan.catalogers.apk import ApkCataloger
from testkit.cataloger_helpers import FIXTURES, entry, walk

CAT = ApkCataloger()


def test_wants() -> None:
    assert CAT.wants("lib/apk/db/installed", 0o644, 100)
    assert not CAT.wants("lib/apk/db/installed.new", 0o644, 100)
    assert not CAT.wants("usr/lib/apk/db/installed", 0o644, 100)


def test_alpine_319_fixture() -> None:
    """Hand-written from Alpine 3.19 package names/versions (see the fixture's README)."""
    facts = walk(CAT, FIXTURES / "alpine319")
    assert list(facts) == ["lib/apk/db/installed"]
    f = facts["lib/apk/db/installed"]
    got = {(p.name, p.version, p.arch, p.source_name, p.licenses) for p in f.packages}
    assert got == {
        ("musl", "1.2.4_git20230717-r4", "x86_64", "musl", ("MIT",)),
        ("busybox", "1.36.1-r15", "x86_64", "busybox", ("GPL-2.0-only",)),
        ("busybox-binsh", "1.36.1-r15", "x86_64", "busybox", ("GPL-2.0-only",)),
        ("libcrypto3", "3.1.4-r2", "x86_64", "openssl", ("Apache-2.0",)),
        (
            "ca-certificates-bundle",
            "20230506-r0",
            "x86_64",
            "ca-certificates",
            ("MPL-2.0 AND MIT",),
        ),
    }
    purls = {p.name: p.purl for p in f.packages}
    assert purls["musl"] == "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64"
    assert all(p.source_version == p.version for p in f.packages)
    assert f.owned_paths == (
        "lib/ld-musl-x86_64.so.1",
        "lib/libc.musl-x86_64.so.1",
        "bin/busybox",
        "etc/securetty",
        "etc/udhcpd.conf",
        "etc/logrotate.d/acpid",
        "bin/sh",
        "lib/libcrypto.so.3",
        "usr/lib/libcrypto.so.3",
        "etc/ssl/cert.pem",
        "etc/ssl/certs/ca-certificates.crt",
    )


def test_missing_version_and_trailing_garbage() -> None:
    data = b"P:nover\nA:x86_64\n\nP:ok\nV:1-r0\nnot a field\nX\n"
    f = CAT.catalog(entry("lib/apk/db/installed", data))
    assert [(p.name, p.version, p.arch) for p in f.packages] == [("ok", "1-r0", None)]
