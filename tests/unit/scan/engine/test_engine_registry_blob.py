"""RegistryClient.open_blob: streams, follows a CDN redirect, maps errors, counts `blob`."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.errors import NotFoundError
from patchwarden.registry import RegistryClient

BLOB = b"layer-bytes" * 100_000
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def handler(req: httpx.Request) -> httpx.Response:
    if req.url.host == "cdn.example":
        return httpx.Response(200, content=BLOB)
    if req.url.path == f"/v2/app/blobs/{DIGEST}":
        return httpx.Response(307, headers={"Location": "https://cdn.example/blob"})
    return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN", "message": "no"}]})


def test_open_blob_streams_through_redirect() -> None:
    with RegistryClient(http_transport=httpx.MockTransport(handler)) as client:
        ref = parse_reference("registry.example/app:1")
        with client.open_blob(ref, DIGEST) as f:
            parts = []
            while chunk := f.read(65536):
                parts.append(chunk)
        assert b"".join(parts) == BLOB
        assert client.stats.snapshot()["blob"] == 1
        with pytest.raises(NotFoundError), client.open_blob(ref, "sha256:" + "0" * 64):
            pass
