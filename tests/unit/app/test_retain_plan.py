"""Retention decisions: pure logic over tag facts (the registry side is in integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden.app.retain.plan import RetainRules, plan
from patchwarden.app.retain.protect import from_history
from patchwarden.app.retain.run import CliRetention, retention_for
from patchwarden.app.retain.tags import TagInfo, is_artifact_tag
from patchwarden.config.loader import load_config
from patchwarden.core.ref import parse_reference
from patchwarden.errors import ConfigError, UsageError
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


def test_several_rules_keep_the_union() -> None:
    a = RetainRules(keep_last=1, source="retention[0] (match: reg.example.com/*)")
    b = RetainRules(keep_last=0, keep_tags=r"^1\.1$")
    p = plan(REPO, infos(), [a, b], {}, NOW)
    kept = {v.digest: v.keep for v in p.kept}
    assert "(#1; retention[0] (match: reg.example.com/*))" in kept[d(4)][0]
    assert "matches --keep-tags" in kept[d(2)][0]
    gone = {v.digest: v.drop for v in p.deleted}
    assert set(gone) == {d(1), d(3)}
    assert any("beyond keep_last of retention[0]" in w for w in gone[d(1)])
    assert any("no tag matches --keep-tags" in w for w in gone[d(1)])


def test_retention_from_config_and_flags(tmp_path: Path) -> None:
    (tmp_path / "patchwarden.yaml").write_text(
        "retention:\n"
        "  - match: 'reg.example.com/team/*'\n    keep_last: 5\n    keep_tags: ['^v', 'lts']\n"
        "    keep_rollback: 7\n    paths: [deploy]\n    engine: unix:///run/e.sock\n"
        "  - match: 'other/*'\n    keep_last: 1\n"
    )
    cfg = load_config(tmp_path / "patchwarden.yaml")
    r = retention_for(cfg, REPO, CliRetention(keep_last=2, keep_rollback=1))
    assert [x.keep_last for x in r.rules] == [2, 5]
    assert r.rules[1].keep_tags == "(?:^v)|(?:lts)"
    assert r.paths == [tmp_path / "deploy"] and r.engines == ["unix:///run/e.sock"]
    assert r.keep_rollback == 7  # the most protective
    with pytest.raises(UsageError, match=r"no retention rule for reg\.example\.com/x"):
        retention_for(cfg, parse_reference("reg.example.com/x"), CliRetention())
    with pytest.raises(UsageError, match="need --keep-last"):
        retention_for(cfg, REPO, CliRetention(keep_days=3))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("retention:\n  - match: x\n", "keep_last"),
        ("retention:\n  - match: x\n    keep_last: -1\n", "greater than or equal"),
        ("retention:\n  - match: x\n    keep_last: 1\n    keep_tags: ['(']\n", "invalid regular"),
        ("retention:\n  - match: x\n    keep_last: 1\n    keep: 3\n", "keep"),
    ],
)
def test_invalid_retention_config(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "patchwarden.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "patchwarden.yaml")
