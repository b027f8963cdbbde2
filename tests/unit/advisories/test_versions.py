"""Version ordering per OSV ecosystem (patchwarden.versions.ecosystems)."""

from __future__ import annotations

import itertools

import pytest

from patchwarden.versions.ecosystems import (
    UnknownEcosystemError,
    compare,
    is_valid,
    sort_key,
)

CASES = [
    # dpkg: the epoch wins over everything after it
    ("Debian:12", "1:1.2-1", "2.0-1", 1),
    # dpkg: ~ sorts before the empty string (pre-releases)
    ("Debian:12", "1.0~rc1", "1.0", -1),
    ("Ubuntu:22.04:LTS", "7.81.0-1ubuntu1.13", "7.81.0-1ubuntu1.14", -1),
    ("Ubuntu:Pro:16.04:LTS", "1.1.9-1ubuntu0.1~esm2", "1.1.9-1ubuntu0.1~esm3", -1),
    ("Debian:11", "7.74.0-1.3+deb11u1", "7.74.0-1.3+deb11u2", -1),
    ("Debian:11", "2.9.10+dfsg-6.7+deb11u4", "2.9.10+dfsg-6.7+deb11u10", -1),
    # apk: -rN compares numerically, _rc before the release, _p after it
    ("Alpine:v3.19", "1.2.3-r10", "1.2.3-r9", 1),
    ("Alpine:v3.19", "1.0_rc1", "1.0", -1),
    ("Alpine:v3.19", "1.0_p1", "1.0-r5", 1),
    ("Alpine:v3.23", "8.14.1-r2", "8.16.0-r0", -1),
    # rpm: epoch and release
    ("Red Hat", "1:1.0-1.el9", "2.0-1.el9", 1),
    ("Rocky Linux:9", "1.0-10.el9", "1.0-9.el9", 1),
    ("AlmaLinux:8", "1.0~rc1-1", "1.0-1", -1),
    # PEP 440: normalisation, pre/post/dev releases
    ("PyPI", "0.12.01", "0.12.1", 0),
    ("PyPI", "1.0rc1", "1.0", -1),
    ("PyPI", "1.0.post1", "1.0", 1),
    ("PyPI", "1.0.dev0", "1.0a1", -1),
    ("PyPI", "2.10.0", "2.9.2", 1),
    # SemVer (npm, crates.io): pre-release identifiers numeric vs numeric
    ("npm", "1.0.0-beta.2", "1.0.0-beta.11", -1),
    ("npm", "4.17.20", "4.17.21", -1),
    ("crates.io", "0.1.0", "0.1.0", 0),
    # Go: a leading v is dropped; pseudo-versions are pre-releases of their base
    ("Go", "v0.0.0-20210226172049-e18ecbb05110", "v0.1.0", -1),
    ("Go", "v0.0.0-20210226172049-e18ecbb05110", "0.0.0-20220722155237-a158d28d115b", -1),
    ("Go", "1.21", "1.21.0", 0),  # stdlib from "go1.21"
    ("Go", "1.21rc2", "1.21.0", -1),
    ("Go", "1.19.0-0", "1.19.0", -1),  # vulndb's "introduced: 1.19.0-0"
    # Maven
    ("Maven", "1.0-alpha", "1.0", -1),
    ("Maven", "1.0", "1.0.0", 0),
    ("Maven", "2.17.1", "2.9.0", 1),
]


@pytest.mark.parametrize(("eco", "a", "b", "expected"), CASES)
def test_compare(eco: str, a: str, b: str, expected: int) -> None:
    assert compare(eco, a, b) == expected
    assert compare(eco, b, a) == -expected


def test_invalid_pep440_does_not_crash_and_sorts_first() -> None:
    assert not is_valid("PyPI", "not a version!")
    assert compare("PyPI", "not a version!", "0.0.1") == -1
    assert sorted(["2.0", "junk", "1.0"], key=sort_key("PyPI")) == ["junk", "1.0", "2.0"]


def test_sort_key_orders_dpkg() -> None:
    versions = ["2.0-1", "1:1.0-1", "1.0~rc1-1", "1.0-1"]
    assert sorted(versions, key=sort_key("Debian:12")) == ["1.0~rc1-1", "1.0-1", "2.0-1", "1:1.0-1"]


def test_unknown_ecosystem_is_a_clear_error() -> None:
    with pytest.raises(
        UnknownEcosystemError, match="no version ordering is known for ecosystem 'Hackage'"
    ):
        compare("Hackage", "1", "2")


def test_semver_precedence_per_the_spec() -> None:
    """SemVer 2.0 section 11: the spec's own example chain; build metadata is ignored."""
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    for a, b in itertools.pairwise(chain):
        assert compare("npm", a, b) == -1 and compare("npm", b, a) == 1, (a, b)
    assert compare("npm", "1.0.0+build.1", "1.0.0+build.2") == 0
    assert compare("Go", "v1.2.3", "1.2.3") == 0
    assert compare("Go", "1.21rc2", "1.21.0") == -1
