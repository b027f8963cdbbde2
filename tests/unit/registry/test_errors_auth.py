from __future__ import annotations

import json

import pytest

from patchwarden.errors import AuthenticationError, NotFoundError, RateLimitedError, RegistryError
from patchwarden.registry.auth import (
    TokenCache,
    build_token_request,
    is_loopback,
    parse_token_response,
    rejected_error,
)
from patchwarden.registry.challenge import Challenge
from patchwarden.registry.credentials import Credentials
from patchwarden.registry.errors import map_http_error
from patchwarden.registry.settings import HostSettings


def _body(code: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": "m"}]}).encode()


def test_error_mapping() -> None:
    kw = {"host": "h", "repository": "a/b"}
    e = map_http_error(404, _body("NAME_UNKNOWN"), reference="1", **kw)
    assert isinstance(e, NotFoundError) and "repository a/b not found on h" in e.message
    e = map_http_error(404, _body("MANIFEST_UNKNOWN"), reference="1.2", **kw)
    assert isinstance(e, NotFoundError) and "tag 1.2 not found in a/b" in e.message
    assert isinstance(map_http_error(404, b"", reference="x", **kw), NotFoundError)
    assert isinstance(
        map_http_error(403, _body("DENIED"), reference="x", **kw), AuthenticationError
    )
    e = map_http_error(429, _body("TOOMANYREQUESTS"), **kw)
    assert isinstance(e, RateLimitedError) and e.transient
    e = map_http_error(503, b"oops", **kw)
    assert type(e) is RegistryError and e.transient
    assert not map_http_error(400, b"", **kw).transient


def test_token_response_fields_and_expiry() -> None:
    t = parse_token_response(b'{"access_token": "abc", "expires_in": 300}', 60, now=0)
    assert t.value == "abc" and t.expires_at == 295
    t = parse_token_response(b'{"token": "xyz"}', 60, now=0)
    assert t.value == "xyz" and 48 <= t.expires_at < 60 and t.valid(now=10) and not t.valid(now=60)
    with pytest.raises(RegistryError):
        parse_token_response(b'{"nothing": 1}', 60)


def test_token_cache() -> None:
    c = TokenCache()
    t = parse_token_response(b'{"token": "a", "expires_in": 100}', 60)
    c.put(("h", "s"), t)
    assert c.get(("h", "s")) == t and c.get(("h", "x")) is None
    c.drop(("h", "s"))
    assert c.get(("h", "s")) is None


def test_build_token_request() -> None:
    ch = Challenge("bearer", {"realm": "https://auth.io/token", "service": "reg"})
    req = build_token_request(
        ch, "repository:a/b:pull", Credentials("u", "p"), registry_host="reg.io", allow_http=False
    )
    assert req.method == "GET"
    assert req.url.params["scope"] == "repository:a/b:pull" and req.url.params["service"] == "reg"
    assert req.headers["Authorization"].startswith("Basic ")
    anon = build_token_request(ch, "s", None, registry_host="reg.io", allow_http=False)
    assert "Authorization" not in anon.headers
    refresh = build_token_request(
        ch, "s", Credentials(identity_token="idt"), registry_host="reg.io", allow_http=False
    )
    assert refresh.method == "POST" and b"grant_type=refresh_token" in refresh.content
    plain = Challenge("bearer", {"realm": "http://auth.example/token"})
    with pytest.raises(RegistryError, match="plain-HTTP"):
        build_token_request(plain, "s", Credentials("u", "p"), registry_host="r", allow_http=False)
    with pytest.raises(RegistryError, match="no realm"):
        build_token_request(Challenge("bearer"), "s", None, registry_host="r", allow_http=False)


def test_rejected_error_never_contains_secret() -> None:
    e = rejected_error("r.io", Credentials("bob", "pw-SECRET-1"), "echo pw-SECRET-1 back")
    text = f"{e} {e!r}"
    assert "pw-SECRET-1" not in text and "credentials for r.io (user bob) were rejected" in text
    assert (
        e.hint and "`patchwarden.yaml` registries.r.io" in e.hint and "docker login r.io" in e.hint
    )


def test_secret_reprs_are_masked() -> None:
    hs = HostSettings(username="u", password="hunter2")
    assert "hunter2" not in repr(hs) and "hunter2" not in str(hs) and "***" in repr(hs)
    cr = Credentials("u", "hunter2", "tok-123")
    assert "hunter2" not in repr(cr) and "tok-123" not in repr(cr)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.9.9.9", True),
        ("[::1]:5000", True),
        ("localhost", True),
        ("reg.io", False),
        ("10.0.0.1:5000", False),
        ("[::2]", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected
