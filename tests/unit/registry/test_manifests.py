from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from patchwarden.errors import IntegrityError, RegistryError
from patchwarden.registry.client import verify_digest
from patchwarden.registry.manifests import (
    index_platforms,
    parse_image_config,
    parse_manifest,
    parse_rfc3339,
    select_platform,
)
from patchwarden.registry.model import MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST, Platform

D = "sha256:" + "a" * 64


def _desc(plat: dict[str, str] | None, n: int, **extra: object) -> dict[str, object]:
    d: dict[str, object] = {
        "mediaType": MEDIA_DOCKER_MANIFEST,
        "digest": f"sha256:{n:064d}",
        "size": 10,
        **extra,
    }
    if plat:
        d["platform"] = plat
    return d


INDEX = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": MEDIA_DOCKER_LIST,
        "manifests": [
            _desc({"os": "linux", "architecture": "amd64"}, 1),
            _desc({"os": "linux", "architecture": "arm64", "variant": "v8"}, 2),
            _desc({"os": "linux", "architecture": "arm", "variant": "v7"}, 3),
            _desc(
                {"os": "unknown", "architecture": "unknown"},
                4,
                annotations={"vnd.docker.reference.type": "attestation-manifest"},
            ),
        ],
    }
).encode()


def test_index_parsing_and_platforms() -> None:
    m = parse_manifest(INDEX, D, None, "r/x:1")
    assert m.is_index and len(m.manifests) == 4
    assert index_platforms(m) == [
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
        Platform("linux", "arm", "v7"),
    ]
    def pick(platform: str) -> str | None:
        found = select_platform(m, Platform.parse(platform))
        return None if found is None else found.digest

    assert (pick("linux/arm64") or "").endswith("2")
    assert (pick("linux/arm64/v8") or "").endswith("2")
    assert (pick("linux/arm/v7") or "").endswith("3")
    assert pick("linux/arm/v6") is None
    assert pick("windows/amd64") is None


def test_manifest_parsing_by_content_type() -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"mediaType": "c", "digest": D, "size": 5},
            "layers": [{"mediaType": "l", "digest": D, "size": 7}],
        }
    ).encode()
    m = parse_manifest(raw, D, MEDIA_DOCKER_MANIFEST + "; charset=utf-8", "r/x:1")
    assert m.media_type == MEDIA_DOCKER_MANIFEST and not m.is_index
    assert m.config is not None and m.config.size == 5 and len(m.layers) == 1


def test_schema1_rejected_with_hint() -> None:
    raw = json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode()
    with pytest.raises(RegistryError, match="schema 1") as exc:
        parse_manifest(raw, D, "application/vnd.docker.distribution.manifest.v1+prettyjws", "r")
    assert exc.value.hint and "re-push" in exc.value.hint


def test_garbage_manifest() -> None:
    with pytest.raises(RegistryError, match="not valid JSON"):
        parse_manifest(b"<html>", D, "text/html", "r/x:1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05.123456789Z", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T05:04:05.5+02:00", datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("yesterday", None),
    ],
)
def test_rfc3339(text: str, expected: datetime | None) -> None:
    assert parse_rfc3339(text) == expected


def test_image_config() -> None:
    raw = json.dumps(
        {
            "created": "2024-01-02T03:04:05.000000001Z",
            "os": "linux",
            "architecture": "amd64",
            "config": {"Labels": {"a": "b"}},
        }
    ).encode()
    cfg = parse_image_config(raw, D, "r")
    assert cfg.labels == {"a": "b"} and cfg.created is not None and cfg.os == "linux"
    empty = parse_image_config(b"{}", D, "r")
    assert empty.created is None and empty.labels == {}


def test_verify_digest() -> None:
    import hashlib

    body = b"hello"
    good = "sha256:" + hashlib.sha256(body).hexdigest()
    assert verify_digest(body, good, "h", "x") == good
    with pytest.raises(IntegrityError, match="registry h returned content that does not match"):
        verify_digest(b"other", good, "h", "x")
    with pytest.raises(IntegrityError, match="invalid digest"):
        verify_digest(body, "md5:abc", "h", "x")
