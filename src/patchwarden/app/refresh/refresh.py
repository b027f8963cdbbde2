"""The two halves of "a new CVE affects running image X":

- :func:`store_sboms`: scan images not seen before (layers pulled once, through the layer
  cache), store their packages and their first match (the baseline: nothing is new yet),
  keyed by image digest and advisory index version: a stored result of this version is
  reused, one of an older version is matched again without reading the image;
- :func:`refresh_and_rematch`: update the advisory index, re-match every stored SBOM (no layer
  is read) and report, per image, the vulnerabilities the refresh added.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import astuple, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from patchwarden.app.refresh.codec import encode_os, encode_package
from patchwarden.app.refresh.matcher import ImageMatch, brief, rematch
from patchwarden.errors import PatchwardenError

if TYPE_CHECKING:
    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.app.scan.pipeline import ImagePipeline
    from patchwarden.registry.model import Platform
    from patchwarden.store.sboms import SbomStore

# Updates the index; returns (ecosystem, mode, error or None) per ecosystem.
IndexUpdate = Callable[["AdvisoryIndex"], list[tuple[str, str, str | None]]]


class ScanLocks(Protocol):
    """Locks by name shared by every process of the fleet (``store.locks``): ``hold`` yields
    None when taken, else who holds it; never waits."""

    def hold(self, name: str) -> AbstractContextManager[str | None]: ...


@dataclass(slots=True)
class StoreResult:
    scanned: list[str] = field(default_factory=list)  # image references stored now
    known: int = 0  # stored and matched with this index version: reused, nothing read
    rematched: list[ImageMatch] = field(default_factory=list)  # stored, matched again
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image, why)


def index_version(index: AdvisoryIndex) -> str:
    """The advisory index's version: a digest of what every import changes (each source's
    import time, cursor, validators and record count, and the number of records). The same
    on every worker that installed the same shared index; a new one after any update."""
    parts = [repr(astuple(s)) for s in index.status()]
    parts.append(str(index.record_count()))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def store_sboms(
    pipeline: ImagePipeline,
    store: SbomStore,
    images: Sequence[tuple[str, str]],
    platform: Platform | None,
    index: AdvisoryIndex | None,
    *,
    locks: ScanLocks | None = None,
    wait: float = 300.0,
) -> StoreResult:
    """Scan results keyed by image digest and advisory index version: each ``(digest,
    reference)`` stored and matched with this index version is reused as it is; one stored
    under another version is matched again from its stored packages (no registry request, no
    layer read); only one never stored is scanned (its layers through the layer cache), under
    the lock of its digest (``locks``): an image another process is scanning right now is
    waited for (up to ``wait`` seconds) and then reused, so it is catalogued once fleet-wide.
    """
    result = StoreResult()
    version = index_version(index) if index is not None else None
    unique = list(dict(images).items())
    todo = _sort(store, unique, version, result, index)
    deferred: list[tuple[str, str, str]] = []
    for digest, ref in todo:
        holder = _scan_one(pipeline, store, digest, ref, platform, index, version, locks, result)
        if holder is not None:
            deferred.append((digest, ref, holder))
    deadline = time.monotonic() + wait
    while deferred:
        time.sleep(0.2)
        left = []
        for digest, ref, _ in deferred:
            holder = _scan_one(
                pipeline, store, digest, ref, platform, index, version, locks, result
            )
            if holder is not None:
                left.append((digest, ref, holder))
        deferred = left
        if deferred and time.monotonic() > deadline:
            for _, ref, holder in deferred:
                result.failed.append((ref, f"still being scanned by {holder}"))
            break
    return result


def _sort(
    store: SbomStore,
    images: Sequence[tuple[str, str]],
    version: str | None,
    result: StoreResult,
    index: AdvisoryIndex | None = None,
) -> list[tuple[str, str]]:
    """Count the reusable results, re-match the stale ones; what is left to scan."""
    stored = store.versions(d for d, _ in images)
    stale = [d for d, _ in images if d in stored and version is not None and stored[d] != version]
    result.known += sum(1 for d, _ in images if d in stored) - len(stale)
    if stale and index is not None:
        result.rematched += _rematch(store, stale, index, version)
    return [(d, ref) for d, ref in images if d not in stored]


def _rematch(
    store: SbomStore, digests: list[str], index: AdvisoryIndex, version: str | None
) -> list[ImageMatch]:
    matches = rematch(index, store.get_many(digests))
    changed = {m.digest: (m.findings, m.new_findings) for m in matches if m.changed}
    store.save_matches(changed, version, only=digests)
    return matches


def _scan_one(
    pipeline: ImagePipeline,
    store: SbomStore,
    digest: str,
    ref: str,
    platform: Platform | None,
    index: AdvisoryIndex | None,
    version: str | None,
    locks: ScanLocks | None,
    result: StoreResult,
) -> str | None:
    """Scan and store one image under its lock; who holds the lock when it is taken."""
    from patchwarden.advisories.match import match
    from patchwarden.app.scan import ScanTarget

    with locks.hold(digest) if locks is not None else nullcontext(None) as holder:
        if holder is not None:
            return holder
        if locks is not None and not _sort(store, [(digest, ref)], version, result, index):
            return None  # another process stored it while we waited for the lock
        try:
            source = pipeline.open_source(ScanTarget("registry", ref), platform)
            inv = pipeline.inventory(source, None)
        except PatchwardenError as exc:
            result.failed.append((ref, exc.message))
            return None
        findings = brief(match(index, inv.packages, inv.os)) if index is not None else None
        rows = [encode_package(p) for p in inv.packages]
        store.put(digest, ref, encode_os(inv.os), rows, findings, version)
        result.scanned.append(ref)
    return None


@dataclass(slots=True)
class RefreshResult:
    updates: list[tuple[str, str, str | None]]  # (ecosystem, mode, error)
    images: list[ImageMatch]
    seconds_matching: float = 0.0

    @property
    def added(self) -> list[ImageMatch]:
        return [m for m in self.images if m.added]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ecosystems": [{"ecosystem": e, "mode": m, "error": err} for e, m, err in self.updates],
            "images": len(self.images),
            "new_vulnerabilities": {m.image: list(m.added) for m in self.added},
            "seconds_matching": round(self.seconds_matching, 3),
        }


def refresh_and_rematch(
    index: AdvisoryIndex, store: SbomStore, update: IndexUpdate | None
) -> RefreshResult:
    """Update the index (unless ``update`` is None), then re-match every stored SBOM."""
    import time

    updates = update(index) if update is not None else []
    t0 = time.perf_counter()
    images = rematch(index, store.iter_all())
    changed = {m.digest: (m.findings, m.new_findings) for m in images if m.changed}
    store.save_matches(changed, index_version(index))
    return RefreshResult(updates, images, time.perf_counter() - t0)
