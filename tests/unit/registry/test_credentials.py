from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from patchwarden.errors import ConfigError
from patchwarden.registry.credentials import (
    ChainCredentials,
    Credentials,
    DockerConfigCredentials,
    EnvCredentials,
    ExplicitCredentials,
    env_prefix,
    normalize_host,
)
from patchwarden.registry.settings import HostSettings


def test_normalize_host() -> None:
    assert normalize_host("https://index.docker.io/v1/") == "docker.io"
    assert normalize_host("registry-1.docker.io") == "docker.io"
    assert normalize_host("http://Reg.Example:5000/x") == "reg.example:5000"
    assert env_prefix("ghcr.io") == "PATCHWARDEN_REGISTRY_GHCR_IO_"
    assert env_prefix("127.0.0.1:5000") == "PATCHWARDEN_REGISTRY_127_0_0_1_5000_"


def test_explicit_and_env() -> None:
    ex = ExplicitCredentials(
        {
            "ghcr.io": HostSettings(username="u", password="p"),
            "quay.io": HostSettings(insecure=True),
        }
    )
    assert ex.get("ghcr.io") == Credentials("u", "p")
    assert ex.get("quay.io") is None and ex.get("other") is None
    env = EnvCredentials(
        {
            "PATCHWARDEN_REGISTRY_GHCR_IO_USERNAME": "eu",
            "PATCHWARDEN_REGISTRY_GHCR_IO_PASSWORD": "ep",
        }
    )
    assert env.get("ghcr.io") == Credentials("eu", "ep")
    assert env.get("quay.io") is None
    chain = ChainCredentials([ExplicitCredentials({}), env])
    assert chain.get("ghcr.io") == Credentials("eu", "ep")


def _write(tmp: Path, cfg: object) -> Path:
    p = tmp / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_docker_config_auths(tmp_path: Path) -> None:
    b64 = base64.b64encode(b"hubuser:hub:pass").decode()
    p = _write(
        tmp_path,
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": b64},
                "reg.example:5000": {"username": "ru", "password": "rp"},
                "tok.example": {"auth": "", "identitytoken": "idtok"},
            }
        },
    )
    dc = DockerConfigCredentials(p)
    assert dc.get("docker.io") == Credentials("hubuser", "hub:pass")
    assert dc.get("reg.example:5000") == Credentials("ru", "rp")
    assert dc.get("tok.example") == Credentials(identity_token="idtok")
    assert dc.get("nothere.io") is None
    assert DockerConfigCredentials(tmp_path / "missing.json").get("docker.io") is None


def test_docker_config_bad_auth(tmp_path: Path) -> None:
    p = _write(tmp_path, {"auths": {"r.io": {"auth": base64.b64encode(b"nocolon").decode()}}})
    with pytest.raises(ConfigError, match="not user:password"):
        DockerConfigCredentials(p).get("r.io")


HELPER = """#!/bin/sh
read server
echo "$server" >> "{log}"
case "$server" in
  *tokenhost*) echo '{{"ServerURL":"x","Username":"<token>","Secret":"refresh-abc"}}' ;;
  *missing*) echo "credentials not found in native keychain"; exit 1 ;;
  *broken*) echo "boom: Secret=hunter2" >&2; exit 3 ;;
  *) echo '{{"ServerURL":"x","Username":"helper-user","Secret":"helper-secret"}}' ;;
esac
"""


@pytest.fixture()
def helper_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "helper.log"
    script = bindir / "docker-credential-test"
    script.write_text(HELPER.format(log=log))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_cred_helpers_and_store(tmp_path: Path, helper_on_path: Path) -> None:
    p = _write(
        tmp_path,
        {
            "auths": {"plain.io": {"username": "pu", "password": "pp"}},
            "credHelpers": {"tokenhost.io": "test", "missing.io": "test", "broken.io": "test"},
            "credsStore": "test",
        },
    )
    dc = DockerConfigCredentials(p)
    assert dc.get("tokenhost.io") == Credentials(identity_token="refresh-abc")
    assert dc.get("missing.io") is None
    assert dc.get("plain.io") == Credentials("pu", "pp")  # auths entry wins over credsStore
    assert dc.get("docker.io") == Credentials("helper-user", "helper-secret")
    served = helper_on_path.read_text().split()
    assert "https://index.docker.io/v1/" in served and "tokenhost.io" in served
    from patchwarden.errors import AuthenticationError

    with pytest.raises(AuthenticationError) as exc:
        dc.get("broken.io")
    assert "docker-credential-test failed" in str(exc.value)


def test_missing_helper_binary_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path, {"credsStore": "nonexistent-xyz"})
    with pytest.raises(ConfigError, match="docker-credential-nonexistent-xyz is not installed"):
        DockerConfigCredentials(p).get("r.io")


def test_docker_config_env_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {"auths": {"r.io": {"username": "a", "password": "b"}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert DockerConfigCredentials().get("r.io") == Credentials("a", "b")
