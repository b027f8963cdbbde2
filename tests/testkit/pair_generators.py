"""Deterministic generators of version pairs per scheme, for the reference-ordering tests.

Each generator mixes real versions (from the OSV fixtures), random versions built from the
scheme's grammar, and "near" pairs (one version and a small mutation of it) so that equal
versions, pre-releases and tie-breaking rules are exercised, not only obviously different ones.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
N_PAIRS = 6000
SEED = 20261202


def fixture_versions(folder: str) -> list[str]:
    out: set[str] = set()
    for f in sorted((FIXTURES / "osv" / folder).glob("*.json")):
        for aff in json.loads(f.read_text()).get("affected", []):
            out.update(aff.get("versions", []))
            for rng in aff.get("ranges", []):
                for ev in rng.get("events", []):
                    out.update(v for k, v in ev.items() if k != "limit" and v != "0")
    return sorted(out)


def _pairs(
    make: Callable[[random.Random], str],
    mutate: Callable[[random.Random, str], str],
    real: list[str],
    n: int = N_PAIRS,
) -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    out: list[tuple[str, str]] = []
    while len(out) < n:
        a = rng.choice(real) if real and rng.random() < 0.3 else make(rng)
        roll = rng.random()
        if roll < 0.45:
            b = mutate(rng, a)
        elif roll < 0.5:
            b = a
        else:
            b = rng.choice(real) if real and rng.random() < 0.3 else make(rng)
        out.append((a, b))
    return out


def _num(rng: random.Random, big: bool = True) -> str:
    r = rng.random()
    if big and r < 0.05:
        return str(rng.randint(10**6, 10**12))
    if r < 0.1:
        return "0" + str(rng.randint(0, 9))  # leading zeros
    return str(rng.choice([0, 0, 1, 1, 2, 3, 9, 10, 11, rng.randint(0, 40)]))


def _bump(rng: random.Random, v: str) -> str:
    """Change one digit run, or one character, of ``v``."""
    digits = [i for i, c in enumerate(v) if c.isdigit()]
    if digits and rng.random() < 0.7:
        i = rng.choice(digits)
        return v[:i] + str((int(v[i]) + rng.choice([1, 9])) % 10) + v[i + 1 :]
    return v


# dpkg -------------------------------------------------------------------------------------

_DPKG_BITS = ["", "~", "~rc1", "~beta2", "+dfsg", "+deb12u1", "+deb11u10", "a", "b", "+", ".", "z"]


def _dpkg_make(rng: random.Random) -> str:
    up = _num(rng) + "".join("." + _num(rng) for _ in range(rng.randint(0, 3)))
    up += rng.choice(_DPKG_BITS) + (rng.choice(_DPKG_BITS) if rng.random() < 0.3 else "")
    if rng.random() < 0.2:
        up += "-" + _num(rng, big=False) + rng.choice(["", "~", "+x"])  # a hyphen in upstream
    v = up
    if rng.random() < 0.7 or "-" in up:
        rev = _num(rng, big=False) + rng.choice(["", "", ".1", "ubuntu1", "+deb12u1", "~bpo1"])
        v = f"{up}-{rev}"
    if rng.random() < 0.15:
        v = f"{rng.randint(0, 3)}:{v}"
    return v


def _dpkg_mutate(rng: random.Random, v: str) -> str:
    r = rng.random()
    if r < 0.2:
        return v + rng.choice(["~", "~1", "+1", ".0", "a", "-0", "-1"]) if "-" not in v else v + "~"
    if r < 0.3 and ":" not in v:
        return "0:" + v if rng.random() < 0.5 else "1:" + v
    if r < 0.4 and v.endswith("-0"):
        return v[:-2]
    return _bump(rng, v)


def dpkg_pairs() -> list[tuple[str, str]]:
    return _pairs(_dpkg_make, _dpkg_mutate, fixture_versions("Debian"))


# rpm --------------------------------------------------------------------------------------

_RPM_BITS = ["", "", "~rc1", "^20240101git1", "a", "b", "_1", "+", ".el9", ".el8_7", "p1"]


def _rpm_make(rng: random.Random) -> str:
    ver = _num(rng) + "".join("." + _num(rng) for _ in range(rng.randint(0, 3)))
    ver += rng.choice(_RPM_BITS)
    if rng.random() < 0.1:
        ver += rng.choice(string.ascii_letters) + _num(rng, big=False)
    v = ver
    if rng.random() < 0.75:
        v += "-" + _num(rng, big=False) + rng.choice(["", ".el9", ".el9_2", ".fc39", "~beta"])
    if rng.random() < 0.15:
        v = f"{rng.randint(0, 2)}:{v}"
    return v


def _rpm_mutate(rng: random.Random, v: str) -> str:
    r = rng.random()
    if r < 0.2:
        return v + rng.choice(["~1", "^1", ".0", "a", "_0", ".1"])
    if r < 0.3:
        return v.split("-")[0]
    if r < 0.4 and ":" not in v:
        return "0:" + v
    return _bump(rng, v)


def rpm_pairs() -> list[tuple[str, str]]:
    return _pairs(_rpm_make, _rpm_mutate, [])


# PEP 440 ----------------------------------------------------------------------------------


def _pep440_make(rng: random.Random) -> str:
    v = ".".join(_num(rng, big=False) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.08:
        v = f"{rng.randint(0, 2)}!{v}"
    if rng.random() < 0.3:
        v += rng.choice(["a", "b", "rc", "c", "alpha", "beta", "pre", "-rc", ".RC"]) + str(
            rng.randint(0, 3)
        )
    if rng.random() < 0.2:
        v += rng.choice([".post", "-post", "post", "-", ".rev", ".r"]) + str(rng.randint(0, 3))
    if rng.random() < 0.15:
        v += rng.choice([".dev", "dev", "-dev"]) + str(rng.randint(0, 3))
    if rng.random() < 0.08:
        v += "+" + rng.choice(["local", "ubuntu.1", "abc.5", "7"])
    if rng.random() < 0.05:
        v = "v" + v
    return v


def _pep440_mutate(rng: random.Random, v: str) -> str:
    r = rng.random()
    if r < 0.25:
        return v + rng.choice([".0", "a1", "rc1", ".post1", ".dev0", "+local", ".0.0"])
    if r < 0.35:
        return v.replace(".", ".0", 1)
    return _bump(rng, v)


def pep440_pairs() -> list[tuple[str, str]]:
    return _pairs(_pep440_make, _pep440_mutate, fixture_versions("PyPI"))


# SemVer (npm) and Go ----------------------------------------------------------------------

_IDENTS = ["alpha", "beta", "rc", "0", "1", "2", "10", "11", "x", "a-b", "Alpha", "pre", "00a"]


def _semver_core(rng: random.Random) -> str:
    return ".".join(str(rng.choice([0, 0, 1, 2, 3, 9, 10, 11, rng.randint(0, 99)])) for _ in "123")


def _prerelease(rng: random.Random) -> str:
    return ".".join(rng.choice(_IDENTS) for _ in range(rng.randint(1, 3)))


def _semver_make(rng: random.Random) -> str:
    v = _semver_core(rng)
    if rng.random() < 0.4:
        v += "-" + _prerelease(rng)
    if rng.random() < 0.1:
        v += "+" + rng.choice(["build.1", "sha.5114f85", "001"])
    return v


def _semver_mutate(rng: random.Random, v: str) -> str:
    r = rng.random()
    if r < 0.2:
        return v.split("-")[0].split("+")[0]
    if r < 0.35:
        return v.split("+")[0] + ("." if "-" in v else "-") + rng.choice(_IDENTS)
    if r < 0.45:
        return v.split("+")[0] + "+other"
    return _bump(rng, v)


def semver_pairs() -> list[tuple[str, str]]:
    return _pairs(_semver_make, _semver_mutate, fixture_versions("npm"))


def _go_make(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.1:  # pseudo-version
        base = rng.choice(["0.0.0", "1.2.3", "0.17.0"])
        stamp = f"2023{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 235959):06d}"
        return f"{base}-{stamp}-{''.join(rng.choice('0123456789abcdef') for _ in range(12))}"
    v = _semver_core(rng)
    if rng.random() < 0.35:
        v += "-" + _prerelease(rng).replace("00a", "0a")
    if rng.random() < 0.08:
        v += "+incompatible"
    return v


def go_pairs() -> list[tuple[str, str]]:
    return _pairs(_go_make, _semver_mutate, fixture_versions("Go"))


# Maven ------------------------------------------------------------------------------------

_QUALIFIERS = [
    "alpha", "beta", "milestone", "rc", "cr", "snapshot", "SNAPSHOT", "ga", "final",
    "release", "sp", "a1", "b2", "m3", "RC1", "Final", "foo", "jre", "android", "",
]  # fmt: skip


def _maven_make(rng: random.Random) -> str:
    v = ".".join(_num(rng, big=False) for _ in range(rng.randint(1, 4)))
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        q = rng.choice(_QUALIFIERS)
        v += rng.choice(["-", ".", "-", ""]) + q if q else "-" + _num(rng, big=False)
        if rng.random() < 0.3:
            v += _num(rng, big=False)
    return v


def _maven_mutate(rng: random.Random, v: str) -> str:
    r = rng.random()
    if r < 0.25:
        return v + rng.choice([".0", "-0", "-final", "-ga", "-SNAPSHOT", "-1", "-sp1", ".0.0"])
    if r < 0.35:
        return v.upper()
    return _bump(rng, v)


def maven_pairs() -> list[tuple[str, str]]:
    return _pairs(_maven_make, _maven_mutate, [])
