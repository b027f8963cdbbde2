from datetime import timedelta
from pathlib import Path

import pytest

from patchwarden.config.loader import find_config, load_config
from patchwarden.config.policies import PolicyResolver
from patchwarden.core.durations import format_duration, parse_duration
from patchwarden.core.ref import parse_reference
from patchwarden.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "patchwarden.yaml"
    p.write_text(text)
    return p


def test_empty_and_missing_config_give_defaults(tmp_path: Path) -> None:
    assert load_config(None).defaults.level is None
    assert load_config(write(tmp_path, "")).platform == "linux/amd64"


def test_unknown_keys_name_path_line_and_allowed_keys(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "version: 1\nimages:\n  - match: node\n    levle: minor\n"
        "registries:\n  r.io:\n    pasword: x\n",
    )
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = exc.value.message
    assert f"{p}:4: images[0].levle: unknown key 'levle'" in msg
    assert "allowed here: allow_prerelease, exclude, ignore, include, level, match" in msg
    assert f"{p}:7: registries.r.io.pasword: unknown key 'pasword'" in msg
    assert "password_env" in msg


def test_bad_values_are_explained(tmp_path: Path) -> None:
    p = write(
        tmp_path, "defaults:\n  level: minr\n  min_age: 3x\n  include: ['([']\n  platform: amd64\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = exc.value.message
    assert ":2: defaults.level" in msg and "'minr'" in msg
    assert ":3: defaults.min_age: invalid duration '3x'" in msg
    assert ":4: defaults.include: invalid regular expression" in msg
    assert ":5: defaults.platform: invalid platform 'amd64'" in msg


def test_malformed_yaml_points_at_line(tmp_path: Path) -> None:
    p = write(tmp_path, "defaults:\n  level: [minor\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "malformed YAML" in exc.value.message and f"{p}:" in exc.value.message


def test_secrets_never_echoed(tmp_path: Path) -> None:
    p = write(tmp_path, "registries:\n  r.io:\n    password: [hunter2]\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "hunter2" not in str(exc.value)
    cfg = load_config(write(tmp_path, "registries:\n  r.io:\n    password: hunter2\n"))
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg.model_dump())


def test_find_config_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATCHWARDEN_CONFIG", raising=False)
    assert find_config(None, [tmp_path]) is None
    p = write(tmp_path, "")
    assert find_config(None, [tmp_path]) == p
    with pytest.raises(ConfigError):
        find_config(tmp_path / "nope.yaml", [tmp_path])


def test_config_is_found_upward_to_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from a sub-directory of a repository, the repository's patchwarden.yaml applies;
    nothing above the repository root is looked at."""
    monkeypatch.delenv("PATCHWARDEN_CONFIG", raising=False)
    write(tmp_path, "")  # above the repository: never used for it
    repo = tmp_path / "repo"
    deep = repo / "services" / "api"
    deep.mkdir(parents=True)
    (repo / ".git").mkdir()
    assert find_config(None, [deep]) is None
    found = write(repo, "")
    assert find_config(None, [deep]) == found
    assert find_config(None, [repo]) == found


def test_policy_reasons_name_the_config_file_in_use(tmp_path: Path) -> None:
    from patchwarden.config.policies import PolicyResolver
    from patchwarden.core.ref import parse_reference

    other = tmp_path / "other.yaml"
    other.write_text("defaults:\n  level: minor\n")
    from patchwarden.cli.common import load_settings

    cfg, path = load_settings(other, [])  # as `-c other.yaml` does
    assert path == other
    policy = PolicyResolver(cfg).for_image(parse_reference("nginx:1.25"))
    assert policy.source.startswith("other.yaml") and "patchwarden.yaml" not in policy.source


@pytest.mark.parametrize(
    ("text", "td"),
    [
        ("90s", timedelta(seconds=90)),
        ("3d", timedelta(days=3)),
        ("1d12h", timedelta(hours=36)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations(text: str, td: timedelta) -> None:
    assert parse_duration(text) == td
    assert parse_duration(format_duration(td)) == td


def test_policy_rules_merge_in_order(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
defaults: {level: minor, min_age: 1d}
images:
  - match: docker.io/library/*
    level: patch
  - match: node
    pin_digest: true
    exclude: ['-rc']
""",
        )
    )
    node = PolicyResolver(cfg).for_image(parse_reference("node:18"))
    assert node.level.value == "patch" and node.pin_digest and node.min_age == timedelta(days=1)
    assert [p.pattern for p in node.exclude] == ["-rc"]
    assert "images[0]" in node.source and "images[1]" in node.source
    other = PolicyResolver(cfg).for_image(parse_reference("ghcr.io/a/b:1"))
    assert other.level.value == "minor" and not other.pin_digest
