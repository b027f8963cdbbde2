from __future__ import annotations

import pytest

from patchwarden.registry.challenge import parse_challenges, parse_next_link, pick_challenge


def test_bearer_challenge() -> None:
    ch = pick_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/nginx:pull"'
    )
    assert ch is not None and ch.scheme == "bearer"
    assert ch.realm == "https://auth.docker.io/token"
    assert ch.service == "registry.docker.io"
    assert ch.scope == "repository:library/nginx:pull"


def test_basic_and_multiple_challenges_and_escapes() -> None:
    chs = parse_challenges('Basic realm="a \\"b\\"", Bearer realm=https://x/t, error=invalid_token')
    assert [c.scheme for c in chs] == ["basic", "bearer"]
    assert chs[0].realm == 'a "b"'
    assert chs[1].realm == "https://x/t" and chs[1].params["error"] == "invalid_token"
    assert pick_challenge('Basic realm="r"') is not None
    assert pick_challenge("Negotiate") is None
    assert pick_challenge(None) is None


def test_scope_with_multiple_actions() -> None:
    ch = pick_challenge('Bearer realm="r",scope="repository:a/b:pull,push"')
    assert ch is not None and ch.scope == "repository:a/b:pull,push"


BASE = "https://reg.io/v2/a/tags/list?n=100"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            '</v2/a/tags/list?n=100&last=x>; rel="next"',
            "https://reg.io/v2/a/tags/list?n=100&last=x",
        ),
        (
            "<https://reg.io/v2/a/tags/list?last=y>; rel=next",
            "https://reg.io/v2/a/tags/list?last=y",
        ),
        (
            '<?last=z>; rel="prev", </v2/a/tags/list?last=q>; rel="next"',
            "https://reg.io/v2/a/tags/list?last=q",
        ),
        ('</x>; rel="prev"', None),
        (None, None),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert parse_next_link(header, BASE) == expected


def test_next_link_to_another_host_is_refused() -> None:
    with pytest.raises(ValueError, match="another host"):
        parse_next_link('<https://evil.example/v2/a/tags/list>; rel="next"', BASE)
