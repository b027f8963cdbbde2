"""RegistryClient request logic against an in-process stand-in (httpx.MockTransport).

Only for what no registry on loopback can show: Docker Hub's API host mapping, HTTPS-only
behaviour for remote hosts, and a server that revokes a token before its expiry. Everything
else is tested against the real distribution registry in tests/integration/.
"""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.errors import AuthenticationError
from patchwarden.registry import ChainCredentials, HostSettings, RegistryClient
from patchwarden.registry.model import MEDIA_OCI_MANIFEST

BODY = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": "c", "digest": "sha256:" + "1" * 64, "size": 2},
        "layers": [],
    }
).encode()
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()
CHALLENGE = 'Bearer realm="https://auth.example/token",service="hub",scope="x"'


class FakeHub:
    def __init__(self) -> None:
        self.seen: list[str] = []
        self.valid_tokens = {"tok-1"}
        self.issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.host}{request.url.path}")
        if request.url.host == "auth.example":
            self.issued += 1
            tok = f"tok-{self.issued}"
            return httpx.Response(200, json={"token": tok, "expires_in": 300})
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.valid_tokens:
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        headers = {"Docker-Content-Digest": DIGEST, "Content-Type": MEDIA_OCI_MANIFEST}
        if request.method == "HEAD":
            return httpx.Response(200, headers={**headers, "Content-Length": str(len(BODY))})
        return httpx.Response(200, headers=headers, content=BODY)


def _client(fake: FakeHub, **kw: object) -> RegistryClient:
    return RegistryClient(
        credentials=ChainCredentials([]),
        http_transport=httpx.MockTransport(fake),
        **kw,
    )


def test_docker_hub_uses_registry_1_and_token_flow() -> None:
    fake = FakeHub()
    with _client(fake) as client:
        ref = parse_reference("nginx:1.25")
        assert client.head_manifest(ref).digest == DIGEST
        assert client.get_manifest(ref).digest == DIGEST
        snap = client.stats.snapshot()
    assert fake.seen[0] == "HEAD registry-1.docker.io/v2/library/nginx/manifests/1.25"
    assert fake.seen[1] == "GET auth.example/token"
    assert snap["token"] == 1 and snap["manifest_head"] == 2 and snap["manifest_get"] == 1


def test_server_side_expired_token_is_refreshed_once() -> None:
    fake = FakeHub()
    with _client(fake) as client:
        ref = parse_reference("nginx:1.25")
        client.head_manifest(ref)
        fake.valid_tokens = {"tok-2"}  # the registry no longer accepts tok-1
        assert client.head_manifest(ref).digest == DIGEST
        assert client.stats.snapshot()["token"] == 2


def test_401_after_fresh_token_is_authentication_error() -> None:
    fake = FakeHub()
    fake.valid_tokens = set()
    with _client(fake) as client, pytest.raises(AuthenticationError) as exc:
        client.head_manifest(parse_reference("nginx:1.25"))
    assert "registry docker.io requires credentials" in exc.value.message
    assert exc.value.hint and "docker login docker.io" in exc.value.hint


def test_https_only_for_remote_hosts() -> None:
    fake = FakeHub()
    schemes: set[str] = set()

    def spy(request: httpx.Request) -> httpx.Response:
        schemes.add(request.url.scheme)
        return fake(request)

    hosts = {"reg.example": HostSettings()}
    with RegistryClient(
        hosts, credentials=ChainCredentials([]), http_transport=httpx.MockTransport(spy)
    ) as client:
        assert client.head_manifest(parse_reference("reg.example/a/b:1")).digest == DIGEST
    assert schemes == {"https"}


def test_every_request_carries_the_user_agent() -> None:
    """Registry, token and probe requests alike (they are built by hand, outside the client)."""
    agents: list[str] = []
    fake = FakeHub()

    def recording(request: httpx.Request) -> httpx.Response:
        agents.append(request.headers.get("User-Agent", ""))
        return fake(request)

    client = RegistryClient(
        credentials=ChainCredentials([]), http_transport=httpx.MockTransport(recording)
    )
    with client:
        client.head_manifest(parse_reference("nginx:1.25"))
    assert len(agents) >= 3  # HEAD (401), token, HEAD again
    assert all(a.startswith("patchwarden/") for a in agents), agents
