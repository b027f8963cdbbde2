"""RegistryClient against a real distribution registry without auth; images pushed by skopeo."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.devtools import skopeo
from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.registry_server import RegistryServer, free_port
from patchwarden.devtools.seed import Seeder
from patchwarden.devtools.skopeo import Pusher
from patchwarden.errors import IntegrityError, NotFoundError, RegistryError
from patchwarden.registry import ClientOptions, RegistryClient
from patchwarden.registry.model import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, Platform

pytestmark = pytest.mark.integration

FAST = ClientOptions(base_backoff=0.01, max_backoff=0.05)


def test_head_digest_equals_skopeo_digest(plain_registry: RegistryServer, pusher: Pusher) -> None:
    want = pusher.image(plain_registry, "plain/head", "1.0", labels={"a": "b"})
    raw = skopeo.inspect_raw(f"{plain_registry.host}/plain/head:1.0")
    assert want == "sha256:" + hashlib.sha256(raw).hexdigest()
    with RegistryClient() as client:
        head = client.head_manifest(parse_reference(f"{plain_registry.host}/plain/head:1.0"))
        assert head.digest == want
        assert head.media_type == MEDIA_OCI_MANIFEST
        assert head.size == len(raw)
        snap = client.stats.snapshot()
    assert snap["manifest_head"] == 1 and snap["manifest_get"] == 0  # never GET when HEAD works


def test_get_manifest_and_config(plain_registry: RegistryServer, pusher: Pusher) -> None:
    digest = pusher.image(
        plain_registry,
        "plain/cfg",
        "2.0",
        labels={"org.opencontainers.image.version": "2.0"},
        created="2023-05-06T07:08:09.987654321Z",
    )
    ref = parse_reference(f"{plain_registry.host}/plain/cfg:2.0")
    with RegistryClient() as client:
        m = client.get_manifest(ref)
        assert m.digest == digest and not m.is_index and m.config is not None
        cfg = client.image_config(ref, Platform.parse("linux/amd64"))
        assert client.platforms(ref) is None
    assert cfg.created == datetime(2023, 5, 6, 7, 8, 9, 987654, tzinfo=UTC)
    assert cfg.labels == {"org.opencontainers.image.version": "2.0"}
    assert (cfg.os, cfg.architecture) == ("linux", "amd64")


def test_multiarch_index_platform_config(plain_registry: RegistryServer, pusher: Pusher) -> None:
    digest = pusher.index(
        plain_registry,
        "plain/multi",
        "3.1",
        platforms=("linux/amd64", "linux/arm64/v8", "linux/arm/v7"),
        attestation=True,
        created="2024-02-03T04:05:06Z",
    )
    ref = parse_reference(f"{plain_registry.host}/plain/multi:3.1")
    with RegistryClient() as client:
        assert client.head_manifest(ref).digest == digest
        assert client.head_manifest(ref).media_type == MEDIA_OCI_INDEX
        plats = client.platforms(ref)
        assert plats == [
            Platform("linux", "amd64"),
            Platform("linux", "arm64", "v8"),
            Platform("linux", "arm", "v7"),
        ]
        arm = client.image_config(ref, Platform.parse("linux/arm64"))  # v8 is arm64's default
        assert (arm.os, arm.architecture) == ("linux", "arm64")
        assert arm.created == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
        v7 = client.image_config(ref, Platform.parse("linux/arm/v7"))
        assert v7.architecture == "arm" and v7.digest != arm.digest
        with pytest.raises(NotFoundError) as exc:
            client.image_config(ref, Platform.parse("windows/amd64"))
        assert "linux/amd64" in str(exc.value) and "linux/arm/v7" in str(exc.value)


def test_list_tags(plain_registry: RegistryServer, pusher: Pusher) -> None:
    pusher.image(plain_registry, "plain/tags", "1.0")
    with Seeder(plain_registry.host) as s:
        s.add_tags("plain/tags", "1.0", ["1.1", "1.2", "latest"])
    with RegistryClient() as client:
        tags = client.list_tags(parse_reference(f"{plain_registry.host}/plain/tags"))
    assert sorted(tags) == ["1.0", "1.1", "1.2", "latest"]
    assert sorted(tags) == sorted(skopeo.list_tags(f"{plain_registry.host}/plain/tags"))


def test_list_tags_paginates_via_link(plain_registry: RegistryServer, pusher: Pusher) -> None:
    pusher.image(plain_registry, "plain/many", "base")
    wanted = [f"1.{i}" for i in range(25)]
    with Seeder(plain_registry.host) as s:
        s.add_tags("plain/many", "base", wanted)
    with RegistryProxy(plain_registry.host, tags_page_size=10) as proxy, RegistryClient() as c:
        tags = c.list_tags(parse_reference(f"{proxy.host}/plain/many"))
        assert sorted(tags) == sorted([*wanted, "base"])
        assert len(tags) == len(set(tags))
        assert proxy.count("GET", "tags") == 3
        assert c.stats.snapshot()["tags"] == 3
        capped = RegistryClient(options=ClientOptions(max_tag_pages=2))
        with pytest.raises(RegistryError, match="more than 2 pages"):
            capped.list_tags(parse_reference(f"{proxy.host}/plain/many"))
        capped.close()


def test_digest_drift_after_repush(plain_registry: RegistryServer, pusher: Pusher) -> None:
    ref = parse_reference(f"{plain_registry.host}/plain/drift:stable")
    first = pusher.image(plain_registry, "plain/drift", "stable", salt="one")
    with RegistryClient() as client:
        assert client.head_manifest(ref).digest == first
        second = pusher.image(plain_registry, "plain/drift", "stable", salt="two")
        assert second != first
        assert client.head_manifest(ref).digest == second
        assert client.get_manifest(ref.with_digest(first)).digest == first  # old still there


def test_missing_repository_and_tag(plain_registry: RegistryServer, pusher: Pusher) -> None:
    pusher.image(plain_registry, "plain/present", "1")
    host = plain_registry.host
    with RegistryClient() as client:
        with pytest.raises(NotFoundError, match="repository plain/absent not found"):
            client.list_tags(parse_reference(f"{host}/plain/absent"))
        with pytest.raises(NotFoundError, match="tag nope not found in plain/present"):
            client.head_manifest(parse_reference(f"{host}/plain/present:nope"))
        with pytest.raises(NotFoundError, match="nope"):
            client.get_manifest(parse_reference(f"{host}/plain/present:nope"))
        with pytest.raises(NotFoundError):
            client.get_manifest(parse_reference(f"{host}/plain/absent:1"))


def test_429_retry_after_then_success(
    proxy: RegistryProxy, plain_registry: RegistryServer, pusher: Pusher
) -> None:
    digest = pusher.image(plain_registry, "plain/throttled", "1")
    proxy.throttle(r"/manifests/", 2, method="HEAD")
    with RegistryClient() as client:
        t0 = time.monotonic()
        head = client.head_manifest(parse_reference(f"{proxy.host}/plain/throttled:1"))
        elapsed = time.monotonic() - t0
        snap = client.stats.snapshot()
    assert head.digest == digest
    assert snap["retries"] == 2 and snap["manifest_head"] == 3
    assert elapsed >= 1.9  # Retry-After: 1 honoured twice
    assert proxy.count("HEAD", "manifests") == 3


def test_429_exhausted_is_rate_limited(
    proxy: RegistryProxy, plain_registry: RegistryServer, pusher: Pusher
) -> None:
    from patchwarden.errors import RateLimitedError

    pusher.image(plain_registry, "plain/limited", "1")
    proxy.throttle(r"/manifests/", 10, retry_after="0")
    opts = ClientOptions(max_attempts=3, base_backoff=0.01)
    with RegistryClient(options=opts) as client, pytest.raises(RateLimitedError) as exc:
        client.get_manifest(parse_reference(f"{proxy.host}/plain/limited:1"))
    assert exc.value.transient and "rate limiting" in str(exc.value)


def test_corrupted_manifest_is_integrity_error(
    proxy: RegistryProxy, plain_registry: RegistryServer, pusher: Pusher
) -> None:
    digest = pusher.image(plain_registry, "plain/corrupt", "1")
    proxy.corrupt(r"/manifests/")
    with RegistryClient() as client:
        for ref in (f"{proxy.host}/plain/corrupt:1", f"{proxy.host}/plain/corrupt@{digest}"):
            with pytest.raises(IntegrityError, match="does not match its digest"):
                client.get_manifest(parse_reference(ref))


def test_head_without_digest_header_falls_back_to_get(
    proxy: RegistryProxy, plain_registry: RegistryServer, pusher: Pusher
) -> None:
    digest = pusher.image(plain_registry, "plain/nodigest", "1")
    proxy.strip_digest_header = True
    with RegistryClient() as client:
        head = client.head_manifest(parse_reference(f"{proxy.host}/plain/nodigest:1"))
        snap = client.stats.snapshot()
    assert head.digest == digest
    assert snap["manifest_head"] == 1 and snap["manifest_get"] == 1


def test_unreachable_port_is_registry_error_with_hint() -> None:
    port = free_port()
    with RegistryClient(options=FAST) as client, pytest.raises(RegistryError) as exc:
        client.list_tags(parse_reference(f"127.0.0.1:{port}/x/y"))
    assert f"cannot reach registry 127.0.0.1:{port}" in exc.value.message
    assert exc.value.hint and "insecure" in exc.value.hint
    assert exc.value.transient


def test_concurrent_use_from_threads(plain_registry: RegistryServer, pusher: Pusher) -> None:
    from concurrent.futures import ThreadPoolExecutor

    digest = pusher.image(plain_registry, "plain/threads", "1")
    ref = parse_reference(f"{plain_registry.host}/plain/threads:1")
    with RegistryClient() as client, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: client.head_manifest(ref).digest, range(40)))
        assert client.stats.snapshot()["manifest_head"] == 40
    assert set(results) == {digest}
