"""Every version ordering the matcher uses, compared with the real implementation.

For each scheme: >= 5,000 distinct generated pairs (plus real versions from the OSV fixtures,
plus the reference's own test vectors where they ship in a package) are ordered by patchwarden
and by the reference tool (see reference_tools.py); every answer must agree. Then every
comparison operator on the sort keys (``<``, ``<=``, ``==``, ``>=``, ``>``, and :func:`same`)
must agree with :func:`compare` on the same pairs: the matcher compares keys with ``>=`` and
``>``, which is how univers' apk ``>=`` bug reached users.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version

from patchwarden.versions.ecosystems import compare, is_valid, same, sort_key
from testkit import pair_generators as gen
from testkit import reference_tools as ref

MIN_DISTINCT = 5000

def _check(eco: str, pairs: list[tuple[str, str]], want: list[int]) -> None:
    distinct = {p for p in pairs}
    assert len(pairs) == len(want)
    wrong = [(a, b, w, compare(eco, a, b)) for (a, b), w in zip(pairs, want, strict=True)]
    wrong = [w for w in wrong if w[2] != w[3]]
    assert not wrong, f"{len(wrong)} of {len(pairs)} differ (a, b, reference, ours): {wrong[:15]}"
    _operators(eco, pairs)
    return None if len(distinct) >= MIN_DISTINCT else pytest.fail(f"{len(distinct)} pairs")


def _operators(eco: str, pairs: list[tuple[str, str]]) -> None:
    key = sort_key(eco)
    bad = []
    for a, b in pairs:
        c = compare(eco, a, b)
        ka, kb = key(a), key(b)
        got = (ka < kb, ka <= kb, ka == kb, same(ka, kb), ka >= kb, ka > kb)
        want = (c < 0, c <= 0, c == 0, c == 0, c >= 0, c > 0)
        if got != want or compare(eco, b, a) != -c:
            bad.append((a, b, c, got))
    assert not bad, (
        f"operators disagree with compare() (a, b, compare, <,<=,==,same,>=,>): {bad[:10]}"
    )


def test_dpkg_against_dpkg_and_apt() -> None:
    pairs = gen.dpkg_pairs()
    # dpkg itself on a sample (two processes per pair), apt's implementation on all pairs,
    # and the two references must agree with each other on the sample
    sample = pairs[:: len(pairs) // 300]
    by_dpkg = ref.dpkg_cli(sample)
    by_apt = ref.dpkg_apt(pairs)
    assert by_apt[:: len(pairs) // 300] == by_dpkg
    _check("Debian:12", pairs, by_apt)


def test_dpkg_policy_examples() -> None:
    """Debian Policy 5.6.12: ``~~`` < ``~~a`` < ``~`` < the empty part < ``a``."""
    chain = ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]
    assert sorted(reversed(chain), key=sort_key("Debian:12")) == chain
    assert ref.dpkg_cli(list(itertools.pairwise(chain))) == [-1] * 4


def test_rpm_against_rpmvercmp(tmp_path: Path) -> None:
    pairs = gen.rpm_pairs()
    _check("Red Hat", pairs, ref.rpm_vercmp(pairs, tmp_path))


def test_pep440_against_packaging() -> None:
    """``packaging`` is the reference implementation of PEP 440 (pip uses it)."""
    pairs = []
    for a, b in gen.pep440_pairs():
        try:
            Version(a), Version(b)
        except InvalidVersion:
            assert not (is_valid("PyPI", a) and is_valid("PyPI", b))
            continue
        pairs.append((a, b))
    want = [(Version(a) > Version(b)) - (Version(a) < Version(b)) for a, b in pairs]
    _check("PyPI", pairs, want)


def test_semver_against_node_semver() -> None:
    pairs, want = [], []
    for pair, verdict in zip(gen.semver_pairs(), ref.node_semver(gen.semver_pairs()), strict=True):
        if verdict is None:  # node-semver rejects one of them (e.g. a leading zero): so do we
            assert not all(is_valid("npm", v) for v in pair), pair
        else:
            pairs.append(pair)
            want.append(verdict)
    _check("npm", pairs, want)



def test_go_against_x_mod_semver(tmp_path: Path) -> None:
    pairs = gen.go_pairs()
    _check("Go", pairs, ref.go_semver(pairs, tmp_path))


def test_go_x_mod_semver_vectors(tmp_path: Path) -> None:
    """The valid versions of x/mod/semver's own test table, every pair, ordered by Go."""
    table = Path(ref.GOCODE, "src/golang.org/x/mod/semver/semver_test.go")
    if not table.is_file():
        ref.missing("golang-golang-x-mod-dev")
    rows = re.findall(r'\{"(v[^"]*)", "([^"]*)"\}', table.read_text())
    valid = sorted({v[1:] for v, canonical in rows if canonical})
    assert len(valid) > 20
    pairs = [(a, b) for a in valid for b in valid]
    want = ref.go_semver(pairs, tmp_path)
    wrong = [(a, b, w) for (a, b), w in zip(pairs, want, strict=True) if compare("Go", a, b) != w]
    assert not wrong, wrong[:10]


def test_maven_against_comparable_version() -> None:
    pairs = gen.maven_pairs()
    _check("Maven", pairs, ref.maven_comparable(pairs))


APK_DATA = gen.FIXTURES / "versions"


def _apk_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in (APK_DATA / "apk-pairs.tsv").read_text().splitlines():
        if not line.startswith("#"):
            a, b, v3, _v214 = line.split("\t")
            rows.append((a, b, v3))
    return rows


def test_apk_against_recorded_apk_tools() -> None:
    """apk-tools cannot be installed here (not in Debian): its comparator's verdicts on 6,000
    generated pairs were recorded once (scripts/make_apk_pairs.py) and are the reference."""
    from patchwarden.versions.apk import apk_compare

    rows = _apk_rows()
    sign = {"<": -1, "=": 0, ">": 1}
    wrong = [(a, b, v) for a, b, v in rows if apk_compare(a, b) != sign[v]]
    assert not wrong, wrong[:15]
    valid = [
        (a, b) for a, b, _ in rows if is_valid("Alpine:v3.20", a) and is_valid("Alpine:v3.20", b)
    ]
    keep = set(valid)
    want = [sign[v] for a, b, v in rows if (a, b) in keep]
    _check("Alpine:v3.20", [(a, b) for a, b, _ in rows if (a, b) in keep], want)


def test_issue_alpine_orderings() -> None:
    key = sort_key("Alpine:v3.23")
    assert key("8.18.0-r0") >= key("8.4.0-r0")
    assert key("8.18.0-r0") > key("8.4.0-r0")
    assert not key("8.18.0-r0") <= key("8.4.0-r0")
    assert key("2.13.9-r0") >= key("2.9.11-r0")
