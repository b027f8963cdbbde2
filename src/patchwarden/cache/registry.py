"""A Registry decorator that makes repeated work cheap without hiding change.

- Tag lists: one request per repository per run (single-flight), and on disk for ``tag_ttl``.
- Tag → digest (HEAD): once per (repository, tag) per run; never served from disk, so a moved
  tag (digest drift) is always seen.
- Manifests, image configs and platform lists by digest: on disk forever (content-addressed).
- What floating tags pointed at is state, not cache: it lives in the state store
  (:mod:`patchwarden.app.check.drift`), so a cold cache or ``--no-cache`` never hides drift.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from patchwarden.cache.store import DiskCache
from patchwarden.core.ref import ImageRef
from patchwarden.errors import PatchwardenError
from patchwarden.registry.model import ImageConfig, Manifest, ManifestHead, Platform, Registry

T = TypeVar("T")


class SingleFlight:
    """Per-key memo where concurrent callers of the same key wait for one computation.

    Failures are memoized too: within one run, a missing repository or a registry that keeps
    failing is asked once (the client already retried transient errors), not once per reference.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, tuple[bool, object]] = {}
        self._running: dict[str, threading.Lock] = {}

    def get(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            key_lock = self._running.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                done = self._done.get(key)
            if done is None:
                try:
                    done = (True, compute())
                except PatchwardenError as exc:
                    done = (False, exc)
                with self._lock:
                    self._done[key] = done
        ok, value = done
        if not ok:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]


class CachingRegistry:
    def __init__(self, inner: Registry, disk: DiskCache | None, tag_ttl: timedelta) -> None:
        self.inner = inner
        self.disk = disk
        self.tag_ttl = tag_ttl.total_seconds()
        self._memo = SingleFlight()

    def request_counts(self) -> dict[str, int]:
        """The requests the wrapped registry sent (cache hits send none)."""
        return self.inner.request_counts()

    # -- tags ---------------------------------------------------------------------------
    def list_tags(self, image: ImageRef) -> list[str]:
        return self._memo.get(f"tags {image.name}", lambda: self._list_tags(image))

    def _list_tags(self, image: ImageRef) -> list[str]:
        if self.disk is not None and self.tag_ttl > 0:
            cached = self.disk.get("tags", image.name, max_age=self.tag_ttl)
            if isinstance(cached, list):
                return [str(t) for t in cached]
        tags = self.inner.list_tags(image)
        if self.disk is not None:
            self.disk.put("tags", image.name, tags)
        return tags

    # -- digests --------------------------------------------------------------------------
    def head_manifest(self, image: ImageRef) -> ManifestHead:
        return self._memo.get(f"head {image}", lambda: self.inner.head_manifest(image))

    # -- content-addressed facts ---------------------------------------------------------------
    def _by_digest(self, image: ImageRef) -> ImageRef:
        if image.digest:
            return image
        return image.with_digest(self.head_manifest(image).digest)

    def get_manifest(self, image: ImageRef) -> Manifest:
        pinned = self._by_digest(image)
        return self._memo.get(
            f"manifest {pinned.name}@{pinned.digest}", lambda: self.inner.get_manifest(pinned)
        )

    def image_config(self, image: ImageRef, platform: Platform) -> ImageConfig:
        pinned = self._by_digest(image)
        key = f"{pinned.name}@{pinned.digest} {platform}"
        return self._memo.get(f"config {key}", lambda: self._image_config(pinned, platform, key))

    def _image_config(self, pinned: ImageRef, platform: Platform, key: str) -> ImageConfig:
        if self.disk is not None:
            cached = self.disk.get("config", key)
            if isinstance(cached, dict):
                return ImageConfig(
                    digest=cached["digest"],
                    created=datetime.fromisoformat(cached["created"])
                    if cached.get("created")
                    else None,
                    os=cached.get("os"),
                    architecture=cached.get("architecture"),
                    labels=dict(cached.get("labels") or {}),
                )
        config = self.inner.image_config(pinned, platform)
        if self.disk is not None:
            self.disk.put(
                "config",
                key,
                {
                    "digest": config.digest,
                    "created": config.created.isoformat() if config.created else None,
                    "os": config.os,
                    "architecture": config.architecture,
                    "labels": config.labels,
                },
            )
        return config

    def platforms(self, image: ImageRef) -> list[Platform] | None:
        pinned = self._by_digest(image)
        key = f"{pinned.name}@{pinned.digest}"
        return self._memo.get(f"platforms {key}", lambda: self._platforms(pinned, key))

    def _platforms(self, pinned: ImageRef, key: str) -> list[Platform] | None:
        if self.disk is not None:
            cached = self.disk.get("platforms", key)
            if isinstance(cached, dict):
                items = cached.get("platforms")
                return None if items is None else [Platform.parse(p) for p in items]
        result = self.inner.platforms(pinned)
        if self.disk is not None:
            self.disk.put(
                "platforms",
                key,
                {"platforms": None if result is None else [str(p) for p in result]},
            )
        return result
