"""Docker tag versioning: parsing, ordering, update kinds and compatibility on real tag lists."""

from __future__ import annotations

import itertools
import random
from functools import cache
from pathlib import Path

import pytest

from patchwarden.versions import (
    DockerTag,
    compatible_candidates,
    incompatibility,
    is_newer,
    parse_tag,
    update_kind,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tags"
IMAGES = sorted(p.stem for p in FIXTURES.glob("*.txt"))


@cache
def tags_of(image: str) -> tuple[str, ...]:
    lines = (FIXTURES / f"{image}.txt").read_text().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def tag(text: str) -> DockerTag:
    parsed = parse_tag(text)
    assert parsed is not None, text
    return parsed


# --- parsing ----------------------------------------------------------------------------------

PARSE_CASES = [
    # tag, prefix, release, prerelease, suffix
    ("18", "", (18,), None, None),
    ("18-alpine", "", (18,), None, "alpine"),
    ("1.25.3-alpine3.18", "", (1, 25, 3), None, "alpine3.18"),
    ("1.25.3-alpine3.18-perl", "", (1, 25, 3), None, "alpine3.18-perl"),
    ("v2.1.0", "v", (2, 1, 0), None, None),
    ("v3.0.0-beta5-windowsservercore-1809", "v", (3, 0, 0), "beta5", "windowsservercore-1809"),
    ("3.12.0rc1", "", (3, 12, 0), "rc1", None),
    ("3.12.0rc1-slim", "", (3, 12, 0), "rc1", "slim"),
    ("3.13.0a2-slim", "", (3, 13, 0), "a2", "slim"),
    ("3.13-rc-slim-bookworm", "", (3, 13), "rc", "slim-bookworm"),
    ("3.11-slim-bookworm", "", (3, 11), None, "slim-bookworm"),
    ("7.2-rc2", "", (7, 2), "rc2", None),
    ("7.2-rc-alpine3.18", "", (7, 2), "rc", "alpine3.18"),
    ("16.1", "", (16, 1), None, None),
    ("16.1-bookworm", "", (16, 1), None, "bookworm"),
    ("16rc1-alpine3.18", "", (16,), "rc1", "alpine3.18"),
    ("16beta3", "", (16,), "beta3", None),
    ("2024.01.15", "", (2024, 1, 15), None, None),
    ("20240115", "", (20240115,), None, None),
    ("2024.1.0b3", "", (2024, 1, 0), "b3", None),
    ("2024.2.0.dev20240115", "", (2024, 2, 0), "dev20240115", None),
    ("1.2.3-beta.1", "", (1, 2, 3), "beta.1", None),
    ("1.2.3-rc.1", "", (1, 2, 3), "rc.1", None),
    ("1.2.3-alpha", "", (1, 2, 3), "alpha", None),
    ("1.2.3-SNAPSHOT", "", (1, 2, 3), None, "SNAPSHOT"),  # case matters: not a pre-release
    ("1.2.3-snapshot", "", (1, 2, 3), "snapshot", None),
    ("1.2.3-preview.2-nanoserver", "", (1, 2, 3), "preview.2", "nanoserver"),
    ("1.2.3-previewer", "", (1, 2, 3), None, "previewer"),  # not alpha/beta/rc+digits
    ("1.2.3-alpine", "", (1, 2, 3), None, "alpine"),  # "alp..." is not "alpha"
    ("1.2.3-devel", "", (1, 2, 3), None, "devel"),
    ("1.22rc1-alpine", "", (1, 22), "rc1", "alpine"),
    ("1.21-windowsservercore-ltsc2022", "", (1, 21), None, "windowsservercore-ltsc2022"),
    ("1.21.5-bookworm", "", (1, 21, 5), None, "bookworm"),
    ("18-bookworm-slim", "", (18,), None, "bookworm-slim"),
    ("21-jdk17", "", (21,), None, "jdk17"),
    ("7.2.3-alpine3.19", "", (7, 2, 3), None, "alpine3.19"),
]


@pytest.mark.parametrize(("text", "prefix", "release", "pre", "suffix"), PARSE_CASES)
def test_parse_tag(
    text: str, prefix: str, release: tuple[int, ...], pre: str | None, suffix: str | None
) -> None:
    parsed = tag(text)
    assert (parsed.raw, parsed.prefix, parsed.release, parsed.prerelease, parsed.suffix) == (
        text,
        prefix,
        release,
        pre,
        suffix,
    )
    assert str(parsed) == text


NON_VERSIONS = [
    "latest", "stable", "mainline", "alpine", "bookworm", "edge", "a1b2c3d", "1a2b3c4",
    "5d0da3dc9764", "lts-alpine", "hydrogen", "mainline-alpine", "stable-perl", "rc-slim",
    "current-bookworm-slim", "windowsservercore-1809", "alpine3.18", "", "-1", "1.", ".1",
    "1..2", "v", "V1.2", "1.2-", "sha256-0123abcd.sig",
]  # fmt: skip


@pytest.mark.parametrize("text", NON_VERSIONS)
def test_non_version_tags(text: str) -> None:
    assert parse_tag(text) is None


def test_leading_zeros_keep_raw_text() -> None:
    parsed = tag("2024.01.05")
    assert parsed.release == (2024, 1, 5)
    assert parsed.raw == "2024.01.05"
    assert parsed.is_date_like


@pytest.mark.parametrize("image", IMAGES)
def test_fixture_tags_parse_consistently(image: str) -> None:
    tags = tags_of(image)
    assert len(tags) > 100, "fixtures hold a realistic amount of tags"
    assert len(set(tags)) == len(tags)
    for text in tags:
        parsed = parse_tag(text)
        if parsed is not None:
            assert parsed.raw == text
            rebuilt = parsed.prefix + ".".join(str(n) for n in parsed.release)
            assert text.startswith(rebuilt) or parsed.is_date_like  # date tags may be 0-padded


REAL_VARIANTS = {
    "node": ["18-alpine", "18.19.0-alpine3.18", "18-bookworm-slim", "lts-alpine", "hydrogen"],
    "python": ["3.12.0rc1-slim", "3.11-slim-bookworm", "3.13.0a2", "3.13-rc-slim"],
    "nginx": ["1.25.3-alpine3.18-perl", "mainline-alpine", "stable-perl"],
    "postgres": ["16.1-bookworm", "16-alpine3.19", "16rc1"],
    "redis": ["7.2.3-alpine3.19", "7.2-rc2", "7.2-rc-alpine3.18"],
    "golang": ["1.21.5-bookworm", "1.22rc1-alpine", "1.21-windowsservercore-ltsc2022"],
    "traefik": ["v2.10.7", "2.10.7", "v3.0.0-beta5"],
    "alpine": ["3.19.0", "20231219", "edge"],
    "home-assistant": ["2024.1.3", "2024.1.0b3", "2024.2.0.dev20240115", "stable"],
}


@pytest.mark.parametrize(("image", "variants"), REAL_VARIANTS.items())
def test_fixtures_hold_the_real_variants(image: str, variants: list[str]) -> None:
    assert set(variants) <= set(tags_of(image))


# --- ordering ---------------------------------------------------------------------------------

ASCENDING = [
    ["1.9", "1.10", "1.11"],
    ["1.9.7", "1.10.8", "1.21.6"],
    ["3.13.0a1", "3.13.0a2", "3.13.0a10", "3.13.0b1", "3.13.0rc1", "3.13.0"],
    ["3.12.0a7", "3.12.0b4", "3.12.0rc1", "3.12.0rc3", "3.12.0", "3.12.1"],
    ["7.2-rc", "7.2-rc1", "7.2-rc2", "7.2", "7.4"],
    ["16beta1", "16beta3", "16rc1", "16", "16.1"],
    ["1.2.3-dev", "1.2.3-alpha", "1.2.3-alpha.1", "1.2.3-beta.1", "1.2.3-beta.2", "1.2.3-rc.1"],
    ["1.2.3-rc.1", "1.2.3", "1.2.4"],
    ["2024.2.0.dev20240113", "2024.2.0.dev20240115", "2024.2.0b0", "2024.2.0"],
    ["2023.12.4", "2024.1.0b3", "2024.1.0", "2024.1.3"],
    ["20230901", "20231219"],
    ["v2.9.10", "v2.10.0-rc1", "v2.10.0", "v3.0.0-beta1", "v3.0.0-beta5"],
]


@pytest.mark.parametrize("chain", ASCENDING, ids=lambda chain: " < ".join(chain))
def test_version_order(chain: list[str]) -> None:
    parsed = [tag(t) for t in chain]
    for older, newer in itertools.pairwise(parsed):
        assert older < newer
        assert is_newer(newer, older)
        assert not is_newer(older, newer)
    shuffled = parsed[:]
    random.Random(4).shuffle(shuffled)
    assert sorted(shuffled) == parsed


def test_trailing_zero_is_same_version_but_ordering_stays_total() -> None:
    a, b = tag("18"), tag("18.0")
    assert a.version_key() == b.version_key()
    assert not is_newer(a, b) and not is_newer(b, a)
    assert a != b and (a < b) != (b < a)


@pytest.mark.parametrize("image", IMAGES)
def test_sorting_real_lists_is_total_and_stable(image: str) -> None:
    parsed = [p for t in tags_of(image) if (p := parse_tag(t)) is not None]
    once = sorted(parsed)
    assert sorted(reversed(parsed)) == once
    for a, b in itertools.pairwise(once):
        assert a < b and not b < a and a != b


# --- update kind ------------------------------------------------------------------------------

KINDS = [
    ("18", "20", "major"),
    ("18-alpine", "21-alpine", "major"),
    ("1.24", "1.25", "minor"),
    ("1.24.0", "1.25.3", "minor"),
    ("1.25.2", "1.25.3", "patch"),
    ("1.2.3.4", "1.2.3.5", "patch"),
    ("3.12.0rc1", "3.12.0", "patch"),  # pre-release -> its final release counts as patch
    ("3.13.0a2", "3.13.0b1", "patch"),
    ("16rc1", "16", "patch"),
    ("3.12.0rc1", "3.12.1", "patch"),
    ("3.12.0rc1", "3.13.0", "minor"),
    ("v2.9.10", "v2.10.7", "minor"),
    ("2023.12.3", "2023.12.4", "patch"),
    ("2023.12.3", "2024.1.0", "major"),  # calendar versions: a new year is a major step
    ("20230901", "20231219", "major"),
]


@pytest.mark.parametrize(("current", "candidate", "kind"), KINDS)
def test_update_kind(current: str, candidate: str, kind: str) -> None:
    assert update_kind(tag(current), tag(candidate)) == kind


# --- compatibility ----------------------------------------------------------------------------

INCOMPATIBLE = [
    # current, candidate, reason (None: compatible)
    ("18-alpine", "20-alpine", None),
    ("18-alpine", "20-bullseye", "different suffix"),
    ("18-alpine", "20", "different suffix"),
    ("18", "20-alpine", "different suffix"),
    ("18-alpine", "20.1.0-alpine", "different precision"),
    ("1.25.3-alpine3.18", "1.25.4-alpine3.19", "different suffix"),
    ("1.25.3-alpine3.18", "1.25.4-alpine", "different suffix"),
    ("v2.10.5", "2.10.7", "different prefix"),
    ("2.10.5", "v2.10.7", "different prefix"),
    ("3.18", "20231219", "different version scheme"),
    ("1.2", "20240115", "different version scheme"),
    ("20231219", "2024.01.15", "different version scheme"),  # dates of another shape
    ("2024.01.15", "2024.02.01", None),
    ("3.11-slim", "3.13-rc-slim", "pre-release"),
    ("3.12.1", "3.13.0a2", "pre-release"),
    ("3.13.0a1", "3.13.0a2", None),  # newer pre-release of the same release
    ("3.12.0rc1-slim", "3.13.0a2-slim", "pre-release"),  # ...but not of another release
    ("3.12.0rc1-slim", "3.12.1-slim", None),  # final releases are fine
    ("7.2-rc2", "7.2", None),
    ("16beta3", "16rc1", None),
    ("1.21rc2-alpine", "1.21-alpine", None),
    ("1.21rc2-alpine", "1.21.0-alpine", "different precision"),
]


@pytest.mark.parametrize(("current", "candidate", "reason"), INCOMPATIBLE)
def test_incompatibility(current: str, candidate: str, reason: str | None) -> None:
    assert incompatibility(tag(current), tag(candidate)) == reason


def test_allow_prerelease_opt_in() -> None:
    assert incompatibility(tag("3.12.1"), tag("3.13.0a2"), allow_prerelease=True) is None
    assert (
        incompatibility(tag("3.12.1"), tag("3.13.0a2-slim"), allow_prerelease=True)
        == "different suffix"
    )


NEWEST = [
    # image, current, newest compatible candidate (None: up to date)
    ("node", "18-alpine", "21-alpine"),
    ("node", "18.19.0-alpine3.18", "21.5.0-alpine3.18"),
    ("node", "18.17.0-alpine3.18", "21.5.0-alpine3.18"),
    ("node", "18-bookworm-slim", "21-bookworm-slim"),
    ("node", "20.10.0", "21.5.0"),
    ("node", "16.20.2-buster-slim", "20.3.1-buster-slim"),
    ("node", "21.5.0-bullseye-slim", None),
    ("python", "3.11-slim-bookworm", "3.12-slim-bookworm"),
    ("python", "3.12.0rc1-slim", "3.12.1-slim"),
    ("python", "3.12.0b4-slim-bookworm", "3.12.1-slim-bookworm"),
    ("python", "3.13.0a1", "3.13.0a2"),
    ("python", "3.13.0a2", None),
    ("python", "3.10", "3.12"),
    ("python", "3.9.18-alpine3.18", "3.12.1-alpine3.18"),
    ("python", "3.11.4-windowsservercore-ltsc2022", "3.12.1-windowsservercore-ltsc2022"),
    ("python", "3.12.1-windowsservercore-ltsc2022", None),
    ("python", "2.7.18-slim", "3.12.1-slim"),
    ("nginx", "1.25.3-alpine3.18-perl", None),
    ("nginx", "1.25.2-alpine3.18-perl", "1.25.3-alpine3.18-perl"),
    ("nginx", "1.24.0-alpine3.17-perl", "1.25.1-alpine3.17-perl"),
    ("nginx", "1.24-alpine", "1.25-alpine"),
    ("nginx", "1.9", "1.25"),
    ("nginx", "1.21.6-perl", "1.25.3-perl"),
    ("postgres", "16.1-bookworm", None),
    ("postgres", "15.4-bookworm", "16.1-bookworm"),
    ("postgres", "15-alpine3.19", "16-alpine3.19"),
    ("postgres", "16-alpine3.19", None),
    ("postgres", "16beta3", "16"),
    ("postgres", "16beta3-alpine3.18", "16-alpine3.18"),
    ("postgres", "16beta1-bookworm", "16-bookworm"),
    ("postgres", "9.6.22", "9.6.24"),
    ("redis", "7.2-rc2", "7.2"),
    ("redis", "7.2-rc1-alpine3.18", "7.2-rc3-alpine3.18"),
    ("redis", "7.2.3-alpine3.19", "7.2.4-alpine3.19"),
    ("redis", "6.2-alpine", "7.2-alpine"),
    ("golang", "1.21.5-bookworm", "1.21.6-bookworm"),
    ("golang", "1.22rc1-alpine", None),
    ("golang", "1.21rc2-alpine", "1.21-alpine"),
    ("golang", "1.21-windowsservercore-ltsc2022", None),
    ("golang", "1.20-windowsservercore-ltsc2022", "1.21-windowsservercore-ltsc2022"),
    ("golang", "1.9-alpine", "1.21-alpine"),
    ("traefik", "v2.10.5", "v2.10.7"),
    ("traefik", "2.9.10", "2.10.7"),
    ("traefik", "v3.0.0-beta3", "v3.0.0-beta5"),
    ("traefik", "v2.10.7-windowsservercore-1809", None),
    ("alpine", "3.18.4", "3.19.0"),
    ("alpine", "3.9", "3.19"),
    ("alpine", "3", None),
    ("alpine", "3.19.0", None),  # 20231219 is a date snapshot, not a newer release
    ("alpine", "20230901", "20231219"),
    ("home-assistant", "2023.12.3", "2024.1.3"),
    ("home-assistant", "2023.12", "2024.1"),
    ("home-assistant", "2024.1", None),
    ("home-assistant", "2024.1.0b3", "2024.1.3"),
    ("home-assistant", "2024.2.0.dev20240113", "2024.2.0.dev20240115"),
]


@pytest.mark.parametrize(("image", "current", "newest"), NEWEST)
def test_compatible_candidates_on_real_lists(image: str, current: str, newest: str | None) -> None:
    cur = tag(current)
    found = compatible_candidates(cur, tags_of(image))
    assert (found[0].raw if found else None) == newest
    assert found == sorted(found, reverse=True)
    for cand in found:
        assert is_newer(cand, cur)
        assert (cand.prefix, cand.suffix, cand.precision) == (cur.prefix, cur.suffix, cur.precision)
        assert incompatibility(cur, cand) is None


def test_compatible_candidates_full_list_and_dedup() -> None:
    found = compatible_candidates(tag("7.2-rc1"), ["7.2-rc2", "7.2", "7.2-rc2", "7.0", "latest"])
    assert [t.raw for t in found] == ["7.2", "7.2-rc2"]


def test_compatible_candidates_prerelease_opt_in() -> None:
    found = compatible_candidates(tag("3.12-slim"), tags_of("python"), allow_prerelease=True)
    assert [t.raw for t in found] == ["3.13-rc-slim"]
