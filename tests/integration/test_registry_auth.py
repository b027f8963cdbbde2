"""Basic (htpasswd) and Bearer token auth against real distribution registries."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.errors import AuthenticationError
from patchwarden.registry import (
    DockerConfigCredentials,
    EnvCredentials,
    HostSettings,
    RegistryClient,
)
from patchwarden.registry.credentials import ChainCredentials

pytestmark = pytest.mark.integration


def _client(reg: RegistryServer, password: str | None = None) -> RegistryClient:
    pw = reg.password if password is None else password
    return RegistryClient({reg.host: HostSettings(username=reg.username, password=pw)})


def test_htpasswd_basic_auth(htpasswd_registry: RegistryServer, pusher: Pusher) -> None:
    digest = pusher.image(htpasswd_registry, "basic/app", "1.0")
    ref = parse_reference(f"{htpasswd_registry.host}/basic/app:1.0")
    with _client(htpasswd_registry) as client:
        assert client.head_manifest(ref).digest == digest
        assert client.list_tags(ref) == ["1.0"]
        assert client.get_manifest(ref).digest == digest
        snap = client.stats.snapshot()
    # one 401 to learn the challenge, then Basic is sent up front
    assert snap["manifest_head"] == 2 and snap["tags"] == 1 and snap["manifest_get"] == 1


def test_htpasswd_wrong_password(htpasswd_registry: RegistryServer, pusher: Pusher) -> None:
    pusher.image(htpasswd_registry, "basic/app", "1.0")
    ref = parse_reference(f"{htpasswd_registry.host}/basic/app:1.0")
    bad = "Totally-Wrong-Pass-123"
    with _client(htpasswd_registry, bad) as client, pytest.raises(AuthenticationError) as exc:
        client.head_manifest(ref)
    text = f"{exc.value} {exc.value!r} {exc.value.hint}"
    assert f"credentials for {htpasswd_registry.host}" in text and "rejected" in text
    assert "docker login" in text and "registries." in text
    assert bad not in text and htpasswd_registry.password not in text


def test_htpasswd_no_credentials(
    htpasswd_registry: RegistryServer,
    pusher: Pusher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    pusher.image(htpasswd_registry, "basic/app", "1.0")
    with RegistryClient() as client, pytest.raises(AuthenticationError, match="requires creden"):
        client.list_tags(parse_reference(f"{htpasswd_registry.host}/basic/app"))


def test_env_and_docker_config_credentials(
    htpasswd_registry: RegistryServer,
    pusher: Pusher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest = pusher.image(htpasswd_registry, "basic/app", "1.0")
    ref = parse_reference(f"{htpasswd_registry.host}/basic/app:1.0")
    reg = htpasswd_registry
    env = {
        "PATCHWARDEN_REGISTRY_127_0_0_1_" + str(reg.port) + "_USERNAME": reg.username,
        "PATCHWARDEN_REGISTRY_127_0_0_1_" + str(reg.port) + "_PASSWORD": reg.password,
    }
    with RegistryClient(credentials=EnvCredentials(env)) as client:
        assert client.head_manifest(ref).digest == digest
    auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {reg.url: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    chain = ChainCredentials([EnvCredentials({}), DockerConfigCredentials()])
    with RegistryClient(credentials=chain) as client:
        assert client.head_manifest(ref).digest == digest


def test_token_auth_caches_tokens(token_registry: RegistryServer, pusher: Pusher) -> None:
    ts = token_registry.token_server
    assert ts is not None
    digest = pusher.image(token_registry, "tok/app", "1.0")
    pusher.image(token_registry, "tok/other", "1.0")
    ts.reset_counts()
    with _client(token_registry) as client:
        for _ in range(3):
            assert (
                client.head_manifest(parse_reference(f"{token_registry.host}/tok/app:1.0")).digest
                == digest
            )
        client.list_tags(parse_reference(f"{token_registry.host}/tok/app"))
        client.get_manifest(parse_reference(f"{token_registry.host}/tok/app:1.0"))
        assert client.stats.snapshot()["token"] == 1
        assert ts.token_requests == 1
        client.list_tags(parse_reference(f"{token_registry.host}/tok/other"))  # new scope
        assert ts.token_requests == 2
        snap = client.stats.snapshot()
    assert snap["token"] == 2
    # only the very first request met a 401: later repositories get a token up front
    assert snap["manifest_head"] == 4


def test_token_refreshed_after_expiry(token_registry: RegistryServer, pusher: Pusher) -> None:
    ts = token_registry.token_server
    assert ts is not None
    digest = pusher.image(token_registry, "tok/short", "1.0")
    ref = parse_reference(f"{token_registry.host}/tok/short:1.0")
    ts.expires_in = 2
    ts.reset_counts()
    try:
        with _client(token_registry) as client:
            assert client.head_manifest(ref).digest == digest
            assert client.head_manifest(ref).digest == digest
            assert ts.token_requests == 1
            time.sleep(2.1)
            assert client.head_manifest(ref).digest == digest
            assert ts.token_requests == 2
    finally:
        ts.expires_in = 300


def test_token_wrong_password(token_registry: RegistryServer, pusher: Pusher) -> None:
    pusher.image(token_registry, "tok/app", "1.0")
    bad = "Not-The-Password-999"
    ref = parse_reference(f"{token_registry.host}/tok/app:1.0")
    with _client(token_registry, bad) as client, pytest.raises(AuthenticationError) as exc:
        client.get_manifest(ref)
    text = f"{exc.value} {exc.value!r} {exc.value.hint}"
    assert "rejected" in text and bad not in text and token_registry.password not in text


def test_token_anonymous_denied(
    token_registry: RegistryServer, pusher: Pusher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    pusher.image(token_registry, "tok/app", "1.0")
    with RegistryClient() as client, pytest.raises(AuthenticationError, match="requires creden"):
        client.head_manifest(parse_reference(f"{token_registry.host}/tok/app:1.0"))
