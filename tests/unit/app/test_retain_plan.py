"""Retention decisions: pure logic over tag facts (the registry side is in integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patchwarden.app.retain.plan import RetainRules, plan
from patchwarden.app.retain.protect import from_history
from patchwarden.app.retain.tags import TagInfo, is_artifact_tag
from patchwarden.core.ref import parse_reference
from patchwarden.errors import UsageError
from patchwarden.store import UpdateRecord

NOW = datetime(2026, 6, 1, tzinfo=UTC)
REPO = parse_reference("reg.example.com/team/app")


def d(n: int) -> str:
    return f"sha256:{n:064x}"


def infos() -> list[TagInfo]:
    return [
        TagInfo("1.0", d(1), NOW - timedelta(days=100)),
        TagInfo("1.0.0", d(1), NOW - timedelta(days=100)),  # same version, two tags
        TagInfo("1.1", d(2), NOW - timedelta(days=50)),
        TagInfo("1.2", d(3), NOW - timedelta(days=5)),
        TagInfo("2.0", d(4), NOW - timedelta(days=1)),
        TagInfo("mystery", d(5), None),
        TagInfo(f"sha256-{'a' * 64}.sig", d(6), NOW - timedelta(days=300)),
        TagInfo("broken", None, None, "manifest unknown"),
    ]


def test_keep_last_days_and_unknown_dates() -> None:
    p = plan(REPO, infos(), RetainRules(keep_last=1, keep_days=10), {}, NOW)
    assert [v.digest for v in p.deleted] == [d(2), d(1)]
    assert sorted(p.deleted[1].tags) == ["1.0", "1.0.0"]
    kept = {v.digest: v.keep for v in p.kept}
    assert kept[d(4)][0] == "one of the last 1 versions (#1)"
    assert "within 10 days" in kept[d(3)][0]
    assert kept[d(5)] == ["creation date unknown: never deleted on a guess"]
    assert d(6) not in kept  # signature tags follow their image, never versions themselves
    assert p.errors == ["broken: manifest unknown"]


def test_protection_by_digest_and_by_tag_and_keep_tags() -> None:
    protected = {d(1): ["deployed: a.yaml:3"], "tag:1.1": ["deployed: b.yaml:1 (app:1.1)"]}
    p = plan(REPO, infos(), RetainRules(keep_last=0, keep_tags=r"^2\."), protected, NOW)
    kept = {v.digest: v.keep for v in p.kept}
    assert kept[d(1)] == ["deployed: a.yaml:3"]
    assert kept[d(2)] == ["deployed: b.yaml:1 (app:1.1)"]
    assert "matches --keep-tags" in kept[d(4)][0]
    assert [v.digest for v in p.deleted] == [d(3)]


def test_rules_validated() -> None:
    with pytest.raises(UsageError, match="keep-last"):
        RetainRules(keep_last=-1)
    with pytest.raises(UsageError, match="not a regex"):
        RetainRules(keep_last=1, keep_tags="(")


def test_rollback_versions_from_history() -> None:
    t = NOW
    recs = [
        UpdateRecord(
            1,
            t,
            t,
            "web",
            "reg.example.com/team/app:3",
            d(3),
            "reg.example.com/team/app:4",
            d(4),
            "updated",
            "",
        ),
        UpdateRecord(
            2,
            t,
            t,
            "web",
            "reg.example.com/team/app:2",
            d(2),
            "reg.example.com/team/app:3",
            d(3),
            "updated",
            "",
        ),
        UpdateRecord(
            3,
            t,
            t,
            "db",
            "other.example.com/db:1",
            d(9),
            "other.example.com/db:2",
            d(8),
            "updated",
            "",
        ),
        UpdateRecord(
            4,
            t,
            t,
            "web",
            "reg.example.com/team/app:1",
            d(1),
            "reg.example.com/team/app:2",
            d(2),
            "failed",
            "",
        ),
    ]
    out = from_history(recs, REPO, keep=2)
    assert set(out) == {d(4), d(3)}
    assert out[d(4)] == ["rollback version #1 of container web (state store)"]


def test_artifact_tags() -> None:
    h = "b" * 64
    assert is_artifact_tag(f"sha256-{h}.sig") and is_artifact_tag(f"sha256-{h}")
    assert not is_artifact_tag("sha256-abc.sig") and not is_artifact_tag(f"sha256-{h}.tar")
