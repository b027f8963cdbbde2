"""`trust:`, `registries.allowed` and `registries.<host>.mirrors` in patchwarden.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.config.loader import load_config
from patchwarden.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "patchwarden.yaml"
    p.write_text(text)
    return p


def test_trust_rules_resolve_key_paths_next_to_the_file(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            "trust:\n  - match: 'reg.example.com/*'\n    keys: [keys/a.pub, /abs/b.pub]\n"
            "    require: all\n"
            "registries:\n  allowed: ['reg.example.com/*']\n"
            "  docker.io:\n    mirrors: ['mirror.local:5000/hub']\n",
        )
    )
    (rule,) = cfg.trust
    assert rule.keys == [str(tmp_path / "keys/a.pub"), "/abs/b.pub"]
    assert rule.require == "all"
    assert cfg.allowed_registries == ["reg.example.com/*"]
    assert cfg.registries["docker.io"].mirrors == ["mirror.local:5000/hub"]
    assert "allowed" not in cfg.registries


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("trust:\n  - match: 'x/*'\n", "names no signer"),
        ("trust:\n  - match: 'x/*'\n    gpg_keys: [k.asc]\n", "no lookaside"),
        ("trust:\n  - match: 'x/*'\n    keys: [k.pub]\n    require: most\n", "require"),
        ("registries:\n  allowed: 'reg.example.com/*'\n", "registries.allowed must be a list"),
        ("registries:\n  docker.io:\n    mirrors: ['http://m']\n", "invalid mirror"),
        (
            "trust:\n  - match: 'x/*'\n    identities: [{subject: a}]\n",
            "exactly one of issuer, issuer_regex",
        ),
        (
            "trust:\n  - match: 'x/*'\n    identities: [{issuer: i, subject: a, subject_regex: b}]\n",
            "exactly one of subject, subject_regex",
        ),
        (
            "trust:\n  - match: 'x/*'\n    identities: [{issuer: i, subject_regex: '('}]\n",
            "invalid regular expression",
        ),
        (
            "trust:\n  - match: 'x/*'\n    identities: [{issuer: i, subject: s, email: e}]\n",
            "email",
        ),
    ],
)
def test_invalid_trust_config_is_refused_precisely(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_keyless_identities_and_trusted_root(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            "trust:\n  - match: 'reg.example.com/*'\n"
            "    identities:\n"
            "      - {issuer: 'https://token.actions.githubusercontent.com',\n"
            "         subject_regex: 'https://github.com/acme/.*'}\n"
            "    trusted_root: roots/trusted_root.json\n"
            "  - match: 'ghcr.io/*'\n"
            "    identities: [{issuer_regex: '.*', subject: 'me@example.org'}]\n",
        )
    )
    a, b = cfg.trust
    assert a.identities[0].subject_regex == "https://github.com/acme/.*"
    assert a.trusted_root == str(tmp_path / "roots/trusted_root.json")
    assert b.trusted_root == "public-good"
