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
