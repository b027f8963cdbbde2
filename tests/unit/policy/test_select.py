"""Candidate selection under a policy, on real tag lists."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from patchwarden.policy import Policy, TagDecision, UpdateLevel, choose_tag, format_duration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tags"
NOW = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
SRC = "patchwarden.yaml images[0] (match: docker.io/library/node)"


@cache
def tags_of(image: str) -> tuple[str, ...]:
    lines = (FIXTURES / f"{image}.txt").read_text().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def policy(**kwargs: Any) -> Policy:
    kwargs.setdefault("source", SRC)
    for key in ("include", "exclude"):
        if key in kwargs:
            kwargs[key] = tuple(re.compile(p) for p in kwargs[key])
    if "level" in kwargs:
        kwargs["level"] = UpdateLevel(kwargs["level"])
    return Policy(**kwargs)


def decide(image: str, current: str | None, **kwargs: Any) -> TagDecision:
    return choose_tag(current, tags_of(image), policy(**kwargs), now=NOW)


MAJOR, MINOR, PATCH = UpdateLevel.MAJOR, UpdateLevel.MINOR, UpdateLevel.PATCH

CASES = [
    # image, current, policy kwargs, expected candidate, expected update, a (tag, reason) rejected
    ("node", "18-alpine", {}, "21-alpine", MAJOR, ("21-bullseye", "different suffix")),
    ("node", "18-alpine", {"level": "minor"}, None, None,
     ("21-alpine", "exceeds policy level minor")),
    ("node", "18.18.0-alpine", {"level": "minor"}, "18.19.0-alpine", MINOR,
     ("20.11.0-alpine", "exceeds policy level minor")),
    ("node", "18.18.0-alpine", {"level": "minor"}, "18.19.0-alpine", MINOR,
     ("18.19.0-alpine3.18", "different suffix")),
    ("node", "18.18.0-alpine", {"level": "minor"}, "18.19.0-alpine", MINOR,
     ("18.19-alpine", "different precision")),
    ("node", "18.18.0-alpine", {"level": "patch"}, "18.18.2-alpine", PATCH,
     ("18.19.0-alpine", "exceeds policy level patch")),
    ("node", "20.10.0-bookworm-slim", {}, "21.5.0-bookworm-slim", MAJOR, None),
    ("node", "20.10.0-bookworm-slim", {"level": "minor"}, "20.11.0-bookworm-slim", MINOR,
     ("21.5.0-bookworm-slim", "exceeds policy level minor")),
    ("python", "3.11-slim-bookworm", {}, "3.12-slim-bookworm", MINOR,
     ("3.13-rc-slim-bookworm", "pre-release")),
    ("python", "3.11-slim-bookworm", {"allow_prerelease": True}, "3.13-rc-slim-bookworm", MINOR,
     ("3.13-rc-bookworm", "different suffix")),
    ("python", "3.12.0rc1-slim", {"level": "patch"}, "3.12.1-slim", PATCH,
     ("3.13.0a2-slim", "pre-release")),
    ("python", "3.12.0b4", {"exclude": [r"rc\d"]}, "3.12.1", PATCH,
     ("3.12.0rc3", r"excluded by pattern rc\d")),
    ("python", "3.12.0b4", {"include": [r"^3\.12\.0rc"]}, "3.12.0rc3", PATCH,
     ("3.12.1", "not matched by include pattern")),
    ("python", "3.13.0a1", {}, "3.13.0a2", PATCH, None),
    ("nginx", "1.23.0", {"include": [r"^1\.23\."]}, "1.23.4", PATCH,
     ("1.25.3", "not matched by include pattern")),
    ("nginx", "1.24.0-alpine-slim", {"exclude": [r"^1\.25\."]}, None, None,
     ("1.25.3-alpine-slim", r"excluded by pattern ^1\.25\.")),
    ("nginx", "1.25.2-alpine3.18-perl", {"level": "patch"}, "1.25.3-alpine3.18-perl", PATCH,
     ("1.25.3-alpine-perl", "different suffix")),
    ("postgres", "15.4-bookworm", {"level": "minor"}, "15.5-bookworm", MINOR,
     ("16.1-bookworm", "exceeds policy level minor")),
    ("postgres", "16rc1", {}, "16", PATCH, ("16.1", "different precision")),
    ("postgres", "14-alpine", {}, "16-alpine", MAJOR, ("16beta3-alpine", "pre-release")),
    ("redis", "7.2-rc2", {}, "7.2", PATCH, ("7.2.4", "different precision")),
    ("redis", "7.0-alpine", {"level": "minor"}, "7.2-alpine", MINOR, None),
    ("golang", "1.21.4-alpine3.18", {"level": "patch"}, "1.21.6-alpine3.18", PATCH,
     ("1.21.6-alpine3.19", "different suffix")),
    ("golang", "1.20-windowsservercore-ltsc2022", {"level": "minor"},
     "1.21-windowsservercore-ltsc2022", MINOR,
     ("1.22rc1-windowsservercore-ltsc2022", "pre-release")),
    ("golang", "1.9-alpine", {"level": "minor"}, "1.21-alpine", MINOR, None),
    ("traefik", "v2.10.5", {"level": "minor"}, "v2.10.7", PATCH, ("2.10.7", "different prefix")),
    ("traefik", "v2.9.10", {"level": "minor"}, "v2.10.7", MINOR,
     ("v3.0.0-beta5", "pre-release")),
    ("traefik", "v3.0.0-beta3", {}, "v3.0.0-beta5", PATCH, None),
    ("alpine", "3.18.4", {}, "3.19.0", MINOR, ("20231219", "different version scheme")),
    ("alpine", "3.18", {"level": "patch"}, None, None, ("3.19", "exceeds policy level patch")),
    ("alpine", "20230901", {}, "20231219", MAJOR, ("3.19.0", "different version scheme")),
    ("alpine", "20230901", {"level": "minor"}, None, None,
     ("20231219", "exceeds policy level minor")),
    ("home-assistant", "2023.12.3", {"level": "minor"}, "2023.12.4", PATCH,
     ("2024.1.3", "exceeds policy level minor")),
    ("home-assistant", "2024.1.0b3", {}, "2024.1.3", PATCH,
     ("2024.2.0.dev20240115", "pre-release")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("image", "current", "kwargs", "candidate", "update", "rejected"),
    CASES,
    ids=[f"{c[0]}:{c[1]}{c[2] or ''}" for c in CASES],
)
def test_choose_tag_table(
    image: str,
    current: str,
    kwargs: dict[str, Any],
    candidate: str | None,
    update: UpdateLevel | None,
    rejected: tuple[str, str] | None,
) -> None:
    decision = decide(image, current, **kwargs)
    assert (decision.candidate, decision.update) == (candidate, update), decision.reason
    assert not decision.follow_digest
    if rejected is not None:
        assert rejected in decision.rejected
    assert SRC in decision.reason
    if candidate is not None:
        assert decision.reason.startswith(f"{candidate} is the newest tag allowed by policy ")
        assert f"a {update} update from {current}" in decision.reason
        assert candidate not in dict(decision.rejected)
    assert current not in dict(decision.rejected)
    assert len(decision.rejected) == len(set(decision.rejected))


@pytest.mark.parametrize(
    "current",
    ["latest", "stable", "mainline-alpine", "stable-perl", "lts-alpine", "hydrogen", "bookworm",
     "edge", "a1b2c3d", "alpine"],
)  # fmt: skip
def test_non_version_tag_follows_digest(current: str) -> None:
    decision = choose_tag(current, tags_of("node"), policy(), now=NOW)
    assert decision == TagDecision(
        None,
        None,
        f"tag {current} is not a version, so its digest is followed instead ({SRC})",
        follow_digest=True,
    )


def test_digest_only_reference() -> None:
    decision = choose_tag(None, tags_of("node"), policy(), now=NOW)
    assert decision == TagDecision(None, None, "pinned by digest only; no tag to compare")


def test_ignored_by_policy() -> None:
    decision = choose_tag("18-alpine", tags_of("node"), policy(ignore=True), now=NOW)
    assert decision == TagDecision(None, None, f"ignored by policy ({SRC})")


def test_level_digest_follows_digest_only() -> None:
    decision = choose_tag("18-alpine", tags_of("node"), policy(level="digest"), now=NOW)
    assert decision == TagDecision(
        None, None, f"policy allows digest updates only ({SRC})", follow_digest=True
    )


def test_up_to_date() -> None:
    decision = decide("postgres", "16.1-bookworm")
    assert decision == TagDecision(
        None, None, f"no newer tag than 16.1-bookworm; policy level=major ({SRC})"
    )


def test_reason_lists_few_examples_with_counts_per_reason() -> None:
    decision = decide("node", "18.18.0-alpine", level="minor")
    assert decision.reason == (
        f"18.19.0-alpine is the newest tag allowed by policy level=minor ({SRC}): "
        "a minor update from 18.18.0-alpine; 306 newer tags rejected: "
        "23 exceeds policy level minor (e.g. 21.5.0-alpine, 21.4.0-alpine); "
        "262 different suffix (e.g. 21.5.0-slim, 21.5.0-bullseye-slim); "
        "21 different precision (e.g. 21.5-alpine, 21.3-alpine)"
    )
    counts: dict[str, int] = {}
    for _, why in decision.rejected:
        counts[why] = counts.get(why, 0) + 1
    assert counts == {
        "exceeds policy level minor": 23,
        "different suffix": 262,
        "different precision": 21,
    }


def test_reason_caps_groups_and_lists_policy_rejections_first() -> None:
    decision = decide("python", "3.12.0rc1-slim", level="patch", exclude=[r"^3\.12\.1"])
    assert decision.candidate == "3.12.0-slim"
    reason = decision.reason
    assert reason.count("e.g.") == 3
    assert "rejected: 1 excluded by pattern ^3\\.12\\.1 (e.g. 3.12.1-slim); " in reason
    assert reason.index("excluded by pattern") < reason.index("different suffix")
    assert "; 2 pre-release (e.g. 3.13.0a2-slim, 3.13.0a1-slim); " in reason
    assert reason.endswith(" more for 1 other reason")
    assert len(reason) < 600


def test_rejected_are_newest_first() -> None:
    decision = decide("node", "18-alpine", level="minor")
    assert decision.rejected[0] == ("21.5.0-slim", "different suffix")
    assert decision.rejected[-1][0].startswith("18.")
    assert decision.reason.startswith(f"no newer tag allowed by policy level=minor ({SRC}); ")


def test_older_tags_are_not_rejected_entries() -> None:
    decision = decide("redis", "7.2.3-alpine3.19")
    assert decision.candidate == "7.2.4-alpine3.19"
    names = dict(decision.rejected)
    assert "7.2.2-alpine" not in names and "7.0.14-alpine3.19" not in names


# --- min-age ----------------------------------------------------------------------------------


class Created:
    """A ``created`` lookup that records its calls."""

    def __init__(self, times: dict[str, datetime | None]) -> None:
        self.times = times
        self.calls: list[str] = []

    def __call__(self, tag: str) -> datetime | None:
        self.calls.append(tag)
        return self.times.get(tag)


def test_min_age_takes_first_old_enough_candidate_lazily() -> None:
    created = Created(
        {
            "1.21.6-alpine3.18": datetime(2024, 1, 10, tzinfo=UTC),
            "1.21.5-alpine3.18": datetime(2023, 12, 6, tzinfo=UTC),
            "1.21.4-alpine3.18": datetime(2023, 11, 8, tzinfo=UTC),
        }
    )
    decision = choose_tag(
        "1.21.3-alpine3.18",
        tags_of("golang"),
        policy(level="patch", min_age=timedelta(days=7)),
        created=created,
        now=NOW,
    )
    assert (decision.candidate, decision.update) == ("1.21.5-alpine3.18", PATCH)
    assert created.calls == ["1.21.6-alpine3.18", "1.21.5-alpine3.18"]
    assert ("1.21.6-alpine3.18", "younger than min-age 7d (created 2024-01-10)") in (
        decision.rejected
    )
    assert "policy level=patch, min-age=7d" in decision.reason
    assert "1 younger than min-age 7d (e.g. 1.21.6-alpine3.18)" in decision.reason


def test_min_age_old_enough_newest_calls_once() -> None:
    created = Created({"1.21.6-bookworm": datetime(2024, 1, 10, tzinfo=UTC)})
    decision = choose_tag(
        "1.21.4-bookworm",
        tags_of("golang"),
        policy(min_age=timedelta(days=3)),
        created=created,
        now=NOW,
    )
    assert decision.candidate == "1.21.6-bookworm"
    assert created.calls == ["1.21.6-bookworm"]


def test_min_age_all_too_young() -> None:
    created = Created({"7.2.4-alpine3.19": datetime(2024, 1, 10, 8, 30, tzinfo=UTC)})
    decision = choose_tag(
        "7.2.3-alpine3.19",
        tags_of("redis"),
        policy(min_age=timedelta(days=7, hours=12)),
        created=created,
        now=NOW,
    )
    assert decision.candidate is None and decision.update is None
    assert ("7.2.4-alpine3.19", "younger than min-age 7d12h (created 2024-01-10)") in (
        decision.rejected
    )
    assert created.calls == ["7.2.4-alpine3.19"]
    assert decision.reason.startswith(
        f"no newer tag allowed by policy level=major, min-age=7d12h ({SRC}); "
        f"{len(decision.rejected)} newer tags rejected: "
        "1 younger than min-age 7d12h (e.g. 7.2.4-alpine3.19); "
    )


def test_min_age_unknown_creation_time_is_rejected_and_said() -> None:
    created = Created({})
    decision = choose_tag(
        "1.21.5-bookworm",
        tags_of("golang"),
        policy(min_age=timedelta(days=1)),
        created=created,
        now=NOW,
    )
    assert decision.candidate is None
    assert ("1.21.6-bookworm", "creation time unknown") in decision.rejected
    assert "creation time unknown" in decision.reason
    # only compatible, allowed candidates are looked up, newest first
    assert created.calls == ["1.21.6-bookworm"]


def test_min_age_only_looks_up_candidates_that_pass_other_rules() -> None:
    created = Created({})
    choose_tag(
        "18.17.0-alpine3.18",
        tags_of("node"),
        policy(level="minor", min_age=timedelta(days=1), exclude=[r"^18\.19\."]),
        created=created,
        now=NOW,
    )
    assert created.calls == [
        "18.18.2-alpine3.18",
        "18.18.1-alpine3.18",
        "18.18.0-alpine3.18",
        "18.17.1-alpine3.18",
    ]


def test_min_age_without_lookup_rejects_as_unknown() -> None:
    decision = choose_tag(
        "7.2.3", tags_of("redis"), policy(min_age=timedelta(days=1)), created=None, now=NOW
    )
    assert decision.candidate is None
    assert ("7.2.4", "creation time unknown") in decision.rejected


def test_created_never_called_without_min_age() -> None:
    def boom(tag: str) -> datetime | None:
        raise AssertionError(f"created({tag}) called without min_age")

    decision = choose_tag("18-alpine", tags_of("node"), policy(), created=boom, now=NOW)
    assert decision.candidate == "21-alpine"


def test_naive_datetimes_are_utc() -> None:
    created = Created({"7.2.4": datetime(2024, 1, 8, 11, 0)})
    decision = choose_tag(
        "7.2.3",
        tags_of("redis"),
        policy(min_age=timedelta(days=7)),
        created=created,
        now=datetime(2024, 1, 15, 12, 0),
    )
    assert decision.candidate == "7.2.4"


# --- model ------------------------------------------------------------------------------------


def test_update_level_order() -> None:
    assert UpdateLevel.DIGEST < UpdateLevel.PATCH < UpdateLevel.MINOR < UpdateLevel.MAJOR
    assert sorted(["major", "digest", "minor", "patch"], key=UpdateLevel) == [
        "digest",
        "patch",
        "minor",
        "major",
    ]
    assert max(UpdateLevel) is UpdateLevel.MAJOR
    assert UpdateLevel.MAJOR > "minor" and UpdateLevel.PATCH <= "patch"
    assert str(UpdateLevel.MINOR) == "minor" and f"{UpdateLevel.MINOR}" == "minor"
    assert UpdateLevel("minor") is UpdateLevel.MINOR
    with pytest.raises(ValueError):
        _ = UpdateLevel.MAJOR < "huge"


def test_policy_defaults_and_frozen() -> None:
    p = Policy()
    assert p.level is UpdateLevel.MAJOR
    assert (p.include, p.exclude, p.ignore, p.pin_digest) == ((), (), False, False)
    assert (p.min_age, p.platform, p.allow_prerelease) == (None, None, False)
    with pytest.raises(FrozenInstanceError):
        p.ignore = True  # type: ignore[misc]  # mypy knows it is frozen; this checks runtime


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=7), "7d"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(seconds=45), "45s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_check_hook_is_lazy_newest_first_and_explains_rejections() -> None:
    from datetime import UTC, datetime

    from patchwarden.policy import Policy, choose_tag

    asked: list[str] = []

    def check(tag: str) -> str | None:
        asked.append(tag)
        return None if tag == "1.1.0" else "not available for linux/arm64"

    decision = choose_tag(
        "1.0.0",
        ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "2.0.0-rc1"],
        Policy(),
        check=check,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert decision.candidate == "1.1.0"
    assert asked == ["1.3.0", "1.2.0", "1.1.0"]
    assert ("1.3.0", "not available for linux/arm64") in decision.rejected
    assert "2 not available for linux/arm64" in decision.reason


def test_rejections_are_grouped_and_ordered_by_code_not_by_wording() -> None:
    """A costly check's reason, however it is worded, is a policy decision: listed before tags
    of another flavour (here three pre-releases outnumber it)."""

    def check(tag: str) -> str | None:
        return None if tag == "1.1.0" else "missing for arm64"

    decision = choose_tag(
        "1.0.0",
        ["1.1.0", "1.2.0", "2.0.0-rc1", "2.0.0-rc2", "2.0.0-rc3"],
        Policy(),
        check=check,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert decision.candidate == "1.1.0"
    assert decision.reason.endswith(
        "4 newer tags rejected: 1 missing for arm64 (e.g. 1.2.0); 3 pre-release (e.g. 2.0.0-rc3, 2.0.0-rc2)"
    ), decision.reason
