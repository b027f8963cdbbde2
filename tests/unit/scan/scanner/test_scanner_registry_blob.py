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


def test_registry_source_reads_ahead_and_honours_read_sizes() -> None:
    """The layer stream is received on its own thread; reads still return at most n bytes,
    in order, and closing early (an error mid-layer) stops the receiver."""
    import threading

    from patchwarden.registry.model import Platform
    from patchwarden.scan.model import LayerRef
    from patchwarden.scan.sources.registry import RegistrySource

    with RegistryClient(http_transport=httpx.MockTransport(handler)) as client:
        src = RegistrySource("registry.example/app:1", Platform("linux", "amd64"), client)
        layer = LayerRef(digest=DIGEST, media_type="", size=len(BLOB))
        f = src.open_layer(layer)
        got: list[bytes] = []
        sizes = [1, 7, 512, 65536, 1 << 20, 3]
        while True:
            chunk = f.read(sizes[len(got) % len(sizes)])
            if not chunk:
                break
            assert len(chunk) <= sizes[len(got) % len(sizes)]
            got.append(chunk)
        f.close()
        assert b"".join(got) == BLOB
        before = threading.active_count()
        g = src.open_layer(layer)
        assert g.read(10) == BLOB[:10]
        g.close()  # not drained
        assert threading.active_count() <= before
