"""``RegistryClient``: the OCI distribution-spec implementation of :class:`Registry`."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import IO, Any, TypeVar

import httpx

from patchwarden.core.digest import Digest
from patchwarden.core.ref import ImageRef
from patchwarden.errors import (
    IntegrityError,
    PlatformNotFoundError,
    ReferenceFormatError,
    RegistryError,
)
from patchwarden.net.deadline import deadline_at
from patchwarden.registry.challenge import parse_next_link
from patchwarden.registry.credentials import CredentialProvider, default_credentials
from patchwarden.registry.errors import map_http_error
from patchwarden.registry.manifests import (
    ACCEPT,
    index_platforms,
    parse_image_config,
    parse_manifest,
    select_platform,
)
from patchwarden.registry.model import ImageConfig, Manifest, ManifestHead, Platform
from patchwarden.registry.ratelimit import RateLimiter
from patchwarden.registry.settings import ClientOptions, HostSettings
from patchwarden.registry.stats import RequestStats
from patchwarden.registry.transport import Transport, read_capped

_CACHE_SIZE = 512
T = TypeVar("T")


def _reference(image: ImageRef) -> str:
    return image.digest or image.tag or "latest"


def _where(image: ImageRef) -> str:
    return f"{image.name}:{image.tag}" if image.tag and not image.digest else str(image)


def verify_digest(data: bytes, expected: str, host: str, what: str) -> str:
    """Raise :class:`IntegrityError` unless ``data`` hashes to ``expected``; return it."""
    try:
        want = Digest.parse(expected)
    except ReferenceFormatError as exc:
        raise IntegrityError(
            f"registry {host} sent an invalid digest {expected!r} for {what}"
        ) from exc
    got = Digest.of(data, want.algorithm)
    if got != want:
        raise IntegrityError(
            f"registry {host} returned content that does not match its digest for {what}: "
            f"expected {want.short}, got {got.short}",
            "the registry or a proxy in between is corrupting data; retry, and report it "
            "to the registry operators if it persists",
        )
    return str(want)


BLOB_GRACE = 60.0  # seconds before a blob download's rate floor applies


class ResponseStream(io.RawIOBase):
    """A file-like view of a streamed response body (content-decoded, read on demand)."""

    def __init__(self, resp: httpx.Response, min_rate: int | None = None) -> None:
        # No chunk_size: httpx re-chunking (ByteChunker) costs ~1.7 s per GB in Python; the
        # network's own pieces (64 KiB reads) are handed on as they come, ~0.6 s per GB.
        self._it = resp.iter_bytes()
        # A rate floor, not a size-based deadline (sizes are the server's word): after a grace
        # period the average rate since the start may not fall below ``min_rate``.
        self._start = time.monotonic()
        self._received = 0
        self._min_rate = min_rate
        self._buf = memoryview(b"")
        self._host = resp.url.host

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if not self._buf:
            try:
                until = None
                if self._min_rate:
                    due = (self._received + (1 << 16)) / self._min_rate
                    until = self._start + BLOB_GRACE + due
                with deadline_at(until):
                    self._buf = memoryview(next(self._it, b""))
                self._received += len(self._buf)
            except httpx.TimeoutException as exc:
                raise RegistryError(
                    f"reading a blob from {self._host} timed out: {exc or type(exc).__name__}",
                    "the registry sends it too slowly (or stalled); retry later",
                    transient=True,
                ) from exc
            except httpx.HTTPError as exc:
                raise RegistryError(
                    f"reading a blob from {self._host} failed: {type(exc).__name__}",
                    "the connection broke mid-download; retry",
                    transient=True,
                ) from exc
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class RegistryClient:
    """A thread-safe registry client; one connection pool and semaphore per host."""

    def __init__(
        self,
        hosts: Mapping[str, HostSettings] | None = None,
        *,
        credentials: CredentialProvider | None = None,
        options: ClientOptions | None = None,
        sleep: Callable[[float], None] | None = None,
        http_transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        """``http_transport`` replaces the network (tests use ``httpx.MockTransport``);
        ``limiter`` paces requests per host (``queue.rate_limits``)."""
        self.options = options or ClientOptions()
        self.stats = RequestStats()
        hosts = dict(hosts or {})
        creds = credentials if credentials is not None else default_credentials(hosts)
        self._t = Transport(
            hosts, creds, self.options, self.stats, sleep, http_transport, limiter
        )
        self._cache: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._cache_lock = threading.Lock()

    def close(self) -> None:
        self._t.close()

    def request_counts(self) -> dict[str, int]:
        return self.stats.snapshot()

    @property
    def transport(self) -> Transport:
        """The per-host plumbing, shared with the push side (``registry.writer``)."""
        return self._t

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- small immutable-content cache (keyed by digest) -------------------------------------

    def _cached(self, key: tuple[str, str, str]) -> Any:
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def _remember(self, key: tuple[str, str, str], value: Any) -> None:
        with self._cache_lock:
            self._cache[key] = value
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)

    # -- Registry protocol ----------------------------------------------------------------

    def _mirrored(self, image: ImageRef, read: Callable[[ImageRef], T]) -> T:
        """Read through the host's pull-through mirrors first (``registries.<host>.mirrors``),
        then the registry itself. Content is digest-checked wherever it comes from; a mirror
        that fails or serves bad content is skipped."""
        for mirror in self._t.mirrors(image.registry):
            host, _, prefix = mirror.partition("/")
            repo = f"{prefix.strip('/')}/{image.repository}" if prefix else image.repository
            try:
                return read(replace(image, registry=host, repository=repo, original=""))
            except RegistryError:
                self.stats.incr("mirror_fallback")
        return read(image)

    def list_tags(self, image: ImageRef) -> list[str]:
        return self._mirrored(image, self._list_tags)

    def head_manifest(self, image: ImageRef) -> ManifestHead:
        return self._mirrored(image, self._head_manifest)

    def get_manifest(self, image: ImageRef) -> Manifest:
        return self._mirrored(image, self._get_manifest)

    def _list_tags(self, image: ImageRef) -> list[str]:
        host, repo, opts = image.registry, image.repository, self.options
        target: str | None = f"/v2/{repo}/tags/list?n={opts.tags_page_size}"
        tags: dict[str, None] = {}
        pages, budget = 0, opts.max_tags_bytes
        while target is not None:
            pages += 1
            if pages > opts.max_tag_pages:
                raise RegistryError(
                    f"registry {host} returned more than {opts.max_tag_pages} pages of tags "
                    f"for {repo}",
                    f"patchwarden reads at most {opts.max_tag_pages} pages of tags; if this "
                    "repository really has more, ignore it with a policy (ignore: true) and "
                    "update it by hand",
                )
            with self._t.request(host, repo, "tags", "GET", target) as resp:
                body = read_capped(resp, budget, f"tag list of {image.name}")
                if resp.status_code != 200:
                    raise map_http_error(resp.status_code, body, host=host, repository=repo)
                try:
                    target = parse_next_link(resp.headers.get("Link"), str(resp.url))
                except ValueError as exc:
                    raise RegistryError(f"registry {host}: {exc}") from exc
            budget -= len(body)
            try:
                page = json.loads(body).get("tags") or []
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"registry {host} sent an invalid tag list for {repo}") from exc
            if not isinstance(page, list):
                raise RegistryError(f"registry {host} sent an invalid tag list for {repo}")
            tags.update(dict.fromkeys(str(t) for t in page))
        return list(tags)

    def _head_manifest(self, image: ImageRef) -> ManifestHead:
        host, repo, ref = image.registry, image.repository, _reference(image)
        path = f"/v2/{repo}/manifests/{ref}"
        with self._t.request(host, repo, "manifest_head", "HEAD", path, {"Accept": ACCEPT}) as r:
            if r.status_code != 200:
                raise map_http_error(r.status_code, b"", host=host, repository=repo, reference=ref)
            digest = r.headers.get("Docker-Content-Digest")
            media_type = r.headers.get("Content-Type", "").split(";", 1)[0].strip()
            length = r.headers.get("Content-Length", "")
        if digest and media_type:
            try:
                Digest.parse(digest)
            except ReferenceFormatError:
                digest = None
            if digest:
                return ManifestHead(digest, media_type, int(length) if length.isdigit() else -1)
        m = self._get_manifest(image)  # no usable digest header: fetch and hash
        return ManifestHead(m.digest, m.media_type, len(m.raw))

    def _get_manifest(self, image: ImageRef) -> Manifest:
        host, repo, ref = image.registry, image.repository, _reference(image)
        key = (host, repo, ref)
        if image.digest and (hit := self._cached(key)) is not None:
            return hit  # type: ignore[no-any-return]
        path = f"/v2/{repo}/manifests/{ref}"
        with self._t.request(host, repo, "manifest_get", "GET", path, {"Accept": ACCEPT}) as r:
            body = read_capped(r, self.options.max_manifest_bytes, f"manifest of {_where(image)}")
            if r.status_code != 200:
                raise map_http_error(r.status_code, body, host=host, repository=repo, reference=ref)
            header_digest = r.headers.get("Docker-Content-Digest")
            content_type = r.headers.get("Content-Type")
        expected = image.digest or header_digest
        if expected:
            digest = verify_digest(body, expected, host, f"manifest {_where(image)}")
        else:
            digest = str(Digest.of(body))
        manifest = parse_manifest(body, digest, content_type, _where(image))
        self._remember((host, repo, digest), manifest)
        return manifest

    def _blob(self, image: ImageRef, digest: str, limit: int, what: str) -> bytes:
        return self._mirrored(image, lambda i: self._blob_at(i, digest, limit, what))

    def _blob_at(self, image: ImageRef, digest: str, limit: int, what: str) -> bytes:
        host, repo = image.registry, image.repository
        if (hit := self._cached((host, repo, "blob:" + digest))) is not None:
            return hit  # type: ignore[no-any-return]
        path = f"/v2/{repo}/blobs/{digest}"
        with self._t.request(host, repo, "blob", "GET", path, follow=True) as r:
            body = read_capped(r, limit, what)
            if r.status_code != 200:
                raise map_http_error(
                    r.status_code, body, host=host, repository=repo, reference=digest, what="blob"
                )
        verify_digest(body, digest, host, what)
        self._remember((host, repo, "blob:" + digest), body)
        return body

    def get_blob(self, image: ImageRef, digest: str, limit: int) -> bytes:
        """A small blob (e.g. an image config), fully read, size-capped and digest-verified."""
        return self._blob(image, digest, limit, f"blob {digest} of {_where(image)}")

    @contextmanager
    def open_blob(self, image: ImageRef, digest: str) -> Iterator[IO[bytes]]:
        """Stream a blob without buffering it; follows redirects (CDNs), authenticates as
        the other calls do and counts ``blob`` in :attr:`stats`. The caller verifies the
        digest while reading (see :mod:`patchwarden.scan.decompress`). The whole download
        may not fall below ``options.blob_min_rate`` on average after :data:`BLOB_GRACE`
        seconds (a registry that drips bytes is cut off, however often it sends one)."""
        host, repo = image.registry, image.repository
        path = f"/v2/{repo}/blobs/{digest}"
        with self._t.request(host, repo, "blob", "GET", path, follow=True) as r:
            if r.status_code != 200:
                body = read_capped(r, 64 * 1024, f"error for blob {digest}")
                raise map_http_error(
                    r.status_code, body, host=host, repository=repo, reference=digest, what="blob"
                )
            yield io.BufferedReader(
                ResponseStream(r, self.options.blob_min_rate), buffer_size=1 << 20
            )

    def resolve_platform(self, image: ImageRef, platform: Platform) -> Manifest:
        """The single-platform manifest of ``image`` for ``platform``."""
        m = self.get_manifest(image)
        if not m.is_index:
            return m
        desc = select_platform(m, platform)
        if desc is None:
            avail = ", ".join(str(p) for p in index_platforms(m)) or "none"
            raise PlatformNotFoundError(
                f"{_where(image)} has no image for platform {platform}",
                f"available platforms: {avail}",
            )
        child = self.get_manifest(image.with_digest(desc.digest))
        if child.is_index:
            raise RegistryError(f"{_where(image)}: nested image indexes are not supported")
        return child

    def image_config(self, image: ImageRef, platform: Platform) -> ImageConfig:
        m = self.resolve_platform(image, platform)
        if m.config is None:
            raise RegistryError(f"manifest of {_where(image)} names no config blob")
        what = f"image config of {_where(image)}"
        blob = self._blob(image, m.config.digest, self.options.max_config_bytes, what)
        return parse_image_config(blob, m.config.digest, _where(image))

    def platforms(self, image: ImageRef) -> list[Platform] | None:
        m = self.get_manifest(image)
        return index_platforms(m) if m.is_index else None
