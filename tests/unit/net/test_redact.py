from __future__ import annotations

import pytest

from patchwarden.net.redact import redact_header, redact_headers, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@reg.example/v2/", "https://***@reg.example/v2/"),
        (
            "https://reg.example/token?scope=x&access_token=abc",
            "https://reg.example/token?scope=x&access_token=***",
        ),
        ("https://s3/x?X-Amz-Signature=deadbeef&a=1", "https://s3/x?X-Amz-Signature=***&a=1"),
        (
            "https://reg.example/v2/library/nginx/tags/list?n=10",
            "https://reg.example/v2/library/nginx/tags/list?n=10",
        ),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_headers() -> None:
    h = redact_headers({"Authorization": "Bearer eyJabc.def.ghi", "Accept": "x", "Cookie": "a=b"})
    assert h == {"Authorization": "Bearer ***", "Accept": "x", "Cookie": "***"}
    assert redact_header("authorization", "Basic dXNlcjpwYXNz") == "Basic ***"


def test_redact_text_urls_tokens_and_literals() -> None:
    text = (
        "GET https://bob:hunter2@r.io/v2/?token=abc failed; Authorization: Bearer abc.def "
        '{"token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "password":"pw"} my-secret-pw'
    )
    out = redact_text(text, secrets=["my-secret-pw"])
    for secret in ("hunter2", "token=abc", "abc.def", "eyJhbGci", '"pw"', "my-secret-pw"):
        assert secret not in out
    assert "r.io/v2/" in out


def test_remembered_credentials_masked_in_every_form() -> None:
    import base64
    from urllib.parse import quote

    from patchwarden.net.redact import forget_secrets, redact_known, remember_secret

    forget_secrets()
    remember_secret("pa:ss/w0rd+", user="robot")
    pair = b"robot:pa:ss/w0rd+"
    forms = [
        "pa:ss/w0rd+",
        pair.decode(),
        base64.b64encode(pair).decode(),
        base64.b64encode(pair).decode().rstrip("="),
        base64.urlsafe_b64encode(pair).decode(),
        quote("pa:ss/w0rd+", safe=""),
        base64.b64encode(b"pa:ss/w0rd+").decode(),
    ]
    for form in forms:
        text = f"registry said: <{form}> in its body"
        assert form not in redact_text(text), form
        assert form not in redact_known(text), form
    assert redact_known("robot is a user name") == "robot is a user name"
    forget_secrets()


def test_credentials_from_any_provider_are_remembered() -> None:
    from patchwarden.net.redact import forget_secrets, redact_known
    from patchwarden.registry.credentials import Credentials

    forget_secrets()
    Credentials("ci-bot", "hunter2-long")
    Credentials(identity_token="idtok-123456")
    assert redact_known("ci-bot:hunter2-long / idtok-123456") == "*** / ***"
    forget_secrets()
