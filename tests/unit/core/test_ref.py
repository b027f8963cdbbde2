"""Reference parsing, table-driven; cases follow distribution/reference's normalize tests."""

import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.errors import ReferenceFormatError

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "familiar"),
    [
        ("nginx", "docker.io", "library/nginx", None, None, "nginx"),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", None, "nginx:1.25"),
        ("library/nginx:latest", "docker.io", "library/nginx", "latest", None, "nginx:latest"),
        ("docker.io/nginx", "docker.io", "library/nginx", None, None, "nginx"),
        ("docker.io/library/nginx", "docker.io", "library/nginx", None, None, "nginx"),
        ("index.docker.io/library/nginx:1", "docker.io", "library/nginx", "1", None, "nginx:1"),
        ("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", None, "bitnami/redis:7.2"),
        ("docker.io/a/b/c", "docker.io", "a/b/c", None, None, "a/b/c"),
        (
            "ghcr.io/acme/app:v1.2.3",
            "ghcr.io",
            "acme/app",
            "v1.2.3",
            None,
            "ghcr.io/acme/app:v1.2.3",
        ),
        ("localhost/foo", "localhost", "foo", None, None, "localhost/foo"),
        (
            "localhost:5000/foo/bar:t",
            "localhost:5000",
            "foo/bar",
            "t",
            None,
            "localhost:5000/foo/bar:t",
        ),
        ("127.0.0.1:5000/x", "127.0.0.1:5000", "x", None, None, "127.0.0.1:5000/x"),
        ("[::1]:5000/x:t", "[::1]:5000", "x", "t", None, "[::1]:5000/x:t"),
        (f"nginx@{D}", "docker.io", "library/nginx", None, D, f"nginx@{D}"),
        (f"nginx:1.25@{D}", "docker.io", "library/nginx", "1.25", D, f"nginx:1.25@{D}"),
        ("Foo/bar", "Foo", "bar", None, None, "Foo/bar"),  # uppercase first part is a host
        (
            "a.b-c.io:443/x__y/z-1.2:1.0_rc-1",
            "a.b-c.io:443",
            "x__y/z-1.2",
            "1.0_rc-1",
            None,
            "a.b-c.io:443/x__y/z-1.2:1.0_rc-1",
        ),
    ],
)
def test_parse_and_normalize(
    text: str,
    registry: str,
    repository: str,
    tag: str | None,
    digest: str | None,
    familiar: str,
) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert ref.familiar == familiar
    assert ref.original == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("nginx:", "invalid tag"),
        ("nginx:-x", "invalid tag"),
        ("nginx:" + "a" * 129, "invalid tag"),
        ("docker.io/Nginx", "must be lowercase"),
        ("UPPER", "must be lowercase"),
        ("nginx@sha256:abc", "invalid sha256 digest"),
        ("nginx@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("a//b", "invalid repository name"),
        ("a/b-", "invalid repository name"),
        ("-a/b", "invalid"),
        (" nginx", "whitespace"),
        (":tag", "no repository"),
        ("x" * 256, "longer than 255"),
    ],
)
def test_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ReferenceFormatError) as exc:
        parse_reference(text)
    assert fragment in exc.value.message


def test_with_tag_drops_digest_and_original() -> None:
    ref = parse_reference(f"nginx:1@{D}").with_tag("2")
    assert str(ref) == "docker.io/library/nginx:2"
    assert ref.original == ""
