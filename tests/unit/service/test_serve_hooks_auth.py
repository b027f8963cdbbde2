"""Webhook verification and payloads; API auth roles, failure limit and CSRF."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from patchwarden.service.auth import Authenticator, AuthError, FailureLimiter
from patchwarden.service.hooks import HookError, parse, verify
from patchwarden.store import open_store
from patchwarden.store.tokens import Role, TokenStore

# The shape distribution 2.8 posts (notifications/event.go): one push of a blob (ignored)
# and one of a tagged manifest.
DISTRIBUTION = {
    "events": [
        {
            "id": "1",
            "timestamp": "2026-01-01T00:00:00Z",
            "action": "push",
            "target": {
                "mediaType": "application/octet-stream",
                "digest": "sha256:" + "a" * 64,
                "repository": "team/app",
            },
            "request": {"host": "127.0.0.1:5000", "method": "PUT"},
        },
        {
            "id": "2",
            "timestamp": "2026-01-01T00:00:01Z",
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + "b" * 64,
                "repository": "team/app",
                "tag": "1.1",
            },
            "request": {"host": "127.0.0.1:5000", "method": "PUT"},
        },
        {"id": "3", "action": "pull", "target": {"repository": "team/other", "tag": "1"}},
    ]
}


def test_distribution_events_name_the_pushed_repository() -> None:
    ev = parse(json.dumps(DISTRIBUTION).encode())
    assert ev.source == "distribution"
    assert ev.repositories == frozenset({"127.0.0.1:5000/team/app"})
    assert ev.ignored == 2


def test_docker_hub_and_harbor_payloads() -> None:
    hub = parse(
        json.dumps({"push_data": {"tag": "1"}, "repository": {"repo_name": "nginx"}}).encode()
    )
    assert hub.repositories == frozenset({"docker.io/library/nginx"})
    harbor = {
        "type": "PUSH_ARTIFACT",
        "event_data": {"resources": [{"resource_url": "harbor.example.org/lib/app:2.0"}]},
    }
    assert parse(json.dumps(harbor).encode()).repositories == frozenset(
        {"harbor.example.org/lib/app"}
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"not json", 400), (b"[1]", 400), (b'{"what": 1}', 400), (b"x" * (1024 * 1024 + 1), 413)],
)
def test_bad_payloads_are_clear_errors(body: bytes, status: int) -> None:
    with pytest.raises(HookError) as e:
        parse(body)
    assert e.value.status == status


def test_verification_by_token_or_hmac() -> None:
    body = b'{"events": []}'
    verify("s3cret", {"authorization": "Bearer s3cret"}, body)
    sig = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    verify("s3cret", {"x-hub-signature-256": sig}, body)
    for headers in ({}, {"authorization": "Bearer wrong"}, {"x-hub-signature-256": "sha256=00"}):
        with pytest.raises(HookError) as e:
            verify("s3cret", headers, body)
        assert e.value.status == 401
    with pytest.raises(HookError) as e:
        verify(None, {"authorization": "Bearer anything"}, body)
    assert e.value.status == 503 and "PATCHWARDEN_HOOK_TOKEN" in (e.value.hint or "")


def test_roles_tokens_hashed_and_failures_limited(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        tokens = TokenStore(store.engine)
        _info, reader = tokens.create("grafana", Role.READ)
        assert reader.startswith("pw_") and len(reader) > 40
        raw = store.engine.raw_connection()
        try:
            rows = raw.execute("SELECT name, token_sha256 FROM api_tokens").fetchall()
        finally:
            raw.close()
        assert rows == [("grafana", hashlib.sha256(reader.encode()).hexdigest())]
        auth = Authenticator(tokens, "admin-secret", failures_per_minute=3)
        assert auth.require("admin-secret", "1.2.3.4", Role.ADMIN).role == Role.ADMIN
        assert auth.require(reader, "1.2.3.4", Role.READ).name == "grafana"
        with pytest.raises(AuthError) as e:
            auth.require(reader, "1.2.3.4", Role.ADMIN)
        assert e.value.status == 403
        for _ in range(3):
            with pytest.raises(AuthError) as e:
                auth.identify("guess", "6.6.6.6")
            assert e.value.status == 401
        with pytest.raises(AuthError) as e:  # even the right token waits now
            auth.identify("admin-secret", "6.6.6.6")
        assert e.value.status == 429 and e.value.retry_after
        assert auth.identify("admin-secret", "1.2.3.4").role == Role.ADMIN  # others unaffected


def test_failure_window_slides() -> None:
    now = [0.0]
    lim = FailureLimiter(2, clock=lambda: now[0])
    lim.failed("c")
    lim.failed("c")
    assert lim.blocked_for("c") == 61
    now[0] = 61.0
    assert lim.blocked_for("c") is None


def test_csrf_token_is_bound_to_the_session(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        auth = Authenticator(TokenStore(store.engine), "x")
        good = auth.csrf_token("session-a")
        auth.check_csrf("session-a", good)
        for sent in (None, "", auth.csrf_token("session-b")):
            with pytest.raises(AuthError):
                auth.check_csrf("session-a", sent)
