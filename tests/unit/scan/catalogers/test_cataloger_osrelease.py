from __future__ import annotations

from patchwarden.scan.catalogers.osrelease import OSReleaseCataloger
from patchwarden.scan.model import OSInfo
from testkit.cataloger_helpers import entry

CAT = OSReleaseCataloger()

DEBIAN = b"""PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""
UBUNTU = b"""# comment
NAME='Ubuntu'
VERSION_ID="22.04"
PRETTY_NAME="Ubuntu 22.04.3 LTS"
ID=ubuntu
ID_LIKE=debian
VERSION_CODENAME=jammy
UBUNTU_CODENAME=jammy
"""
RHEL = b'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="Red Hat Enterprise Linux 9.3 (Plow)"\n'
WEIRD = b'ID=Alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine \\"Linux\\" v3.19"\nbroken line\nX="unbalanced\n'


def test_wants() -> None:
    for path in (
        "etc/os-release",
        "usr/lib/os-release",
        "etc/debian_version",
        "etc/alpine-release",
    ):
        assert CAT.wants(path, 0o644, 300)
    assert not CAT.wants("etc/os-release", 0o644, 10 << 20)
    assert not CAT.wants("usr/share/os-release", 0o644, 300)


def test_os_release_files() -> None:
    assert CAT.catalog(entry("etc/os-release", DEBIAN)).os == OSInfo(
        "debian", "12", "Debian GNU/Linux 12 (bookworm)", "bookworm", ()
    )
    assert CAT.catalog(entry("usr/lib/os-release", UBUNTU)).os == OSInfo(
        "ubuntu", "22.04", "Ubuntu 22.04.3 LTS", "jammy", ("debian",)
    )
    assert CAT.catalog(entry("etc/os-release", RHEL)).os == OSInfo(
        "rhel", "9.3", "Red Hat Enterprise Linux 9.3 (Plow)", None, ("fedora",)
    )
    os = CAT.catalog(entry("etc/os-release", WEIRD)).os
    assert os == OSInfo("alpine", "3.19.1", 'Alpine "Linux" v3.19', None, ())
    assert CAT.catalog(entry("etc/os-release", b"NAME=x\n")).os is None


def test_fallback_files() -> None:
    assert CAT.catalog(entry("etc/debian_version", b"12.4\n")).os == OSInfo("debian", "12")
    assert CAT.catalog(entry("etc/debian_version", b"trixie/sid\n")).os == OSInfo("debian", None)
    assert CAT.catalog(entry("etc/alpine-release", b"3.19.1\n")).os == OSInfo("alpine", "3.19.1")
    assert CAT.catalog(entry("etc/alpine-release", b"")).os is None
