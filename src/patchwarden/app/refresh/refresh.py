"""The two halves of "a new CVE affects running image X":

- :func:`store_sboms`: scan images not seen before (layers pulled once, through the layer
  cache), store their packages and their first match (the baseline: nothing is new yet);
- :func:`refresh_and_rematch`: update the advisory index, re-match every stored SBOM (no layer
  is read) and report, per image, the vulnerabilities the refresh added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


@dataclass(slots=True)
class StoreResult:
    scanned: list[str] = field(default_factory=list)  # image references stored now
    known: int = 0  # already stored, not scanned again
    failed: list[tuple[str, str]] = field(default_factory=list)  # (image, why)


def store_sboms(
    pipeline: ImagePipeline,
    store: SbomStore,
    images: Sequence[tuple[str, str]],
    platform: Platform | None,
    index: AdvisoryIndex | None,
) -> StoreResult:
    """Scan and store each ``(digest, reference)`` not stored yet; match it when ``index``."""
    from patchwarden.advisories.match import match
    from patchwarden.app.scan import ScanTarget

    result = StoreResult()
    known = store.known(d for d, _ in images)
    for digest, ref in images:
        if digest in known:
            result.known += 1
            continue
        try:
            source = pipeline.open_source(ScanTarget("registry", ref), platform)
            inv = pipeline.inventory(source, None)
        except PatchwardenError as exc:
            result.failed.append((ref, exc.message))
            continue
        findings = brief(match(index, inv.packages, inv.os)) if index is not None else None
        rows = [encode_package(p) for p in inv.packages]
        store.put(digest, ref, encode_os(inv.os), rows, findings)
        known.add(digest)
        result.scanned.append(ref)
    return result


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
    store.save_matches({m.digest: (m.findings, m.new_findings) for m in images if m.changed})
    return RefreshResult(updates, images, time.perf_counter() - t0)
