"""The scanner: layers read in parallel (or from cache), then merged into an inventory."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Protocol, runtime_checkable

from patchwarden.scan.errors import HostileLayerError, short
from patchwarden.scan.layer_cache import LayerCache
from patchwarden.scan.limits import Limits
from patchwarden.scan.model import Cataloger, ImageSource, LayerFacts, LayerRef, ScanInventory

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]

__all__ = ["DirectLayerSource", "Limits", "Progress", "Scanner"]


@runtime_checkable
class DirectLayerSource(Protocol):
    """A source whose layers are not blobs (a rootfs directory): it catalogs them itself.

    Its layers are never cached (their "digest" does not address content)."""

    def read_layer_facts(
        self, layer: LayerRef, catalogers: Sequence[Cataloger], limits: Limits
    ) -> LayerFacts: ...


class _Budget:
    """Facts kept across the layers of one scan: bounded, so that many layers each just under
    the per-layer caps cannot add up to unbounded memory."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.packages = 0
        self.owned = 0

    def add(self, facts: LayerFacts) -> None:
        for f in facts.files.values():
            self.packages += len(f.packages)
            self.owned += len(f.owned_paths)
        lim = self.limits
        if self.packages > lim.max_scan_packages or self.owned > lim.max_scan_owned_paths:
            raise HostileLayerError(
                facts.digest,
                f"the image's layers hold more than {lim.max_scan_packages} packages or "
                f"{lim.max_scan_owned_paths} package-database paths in total",
            )


class Scanner:
    def __init__(
        self,
        catalogers: Sequence[Cataloger],
        *,
        cache: LayerCache | None = None,
        max_workers: int = 4,
        limits: Limits = Limits(),  # noqa: B008 - frozen dataclass, safe as a default
    ) -> None:
        self.catalogers = catalogers  # not copied: a lazy set stays unloaded on a cache hit
        self.cache = cache
        self.max_workers = max(1, max_workers)
        self.limits = limits

    def _read(self, source: ImageSource, layer: LayerRef) -> LayerFacts:
        if isinstance(source, DirectLayerSource):
            return source.read_layer_facts(layer, self.catalogers, self.limits)
        from patchwarden.scan.layers import read_layer  # not needed when the cache has it all

        blob = source.open_layer(layer)
        try:
            facts = read_layer(blob, layer, self.catalogers, self.limits)
        finally:
            blob.close()
        if self.cache is not None:  # only verified, complete facts reach the cache
            self.cache.put(facts, self.catalogers, self.limits.max_file_bytes)
        return facts

    def scan(self, source: ImageSource, progress: Progress | None = None) -> ScanInventory:
        info = source.describe()
        total = len(info.layers)
        results: list[LayerFacts | None] = [None] * total
        done = 0

        def tick(layer: LayerRef) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(short(layer.digest), done, total)

        budget = _Budget(self.limits)
        direct = isinstance(source, DirectLayerSource)
        digests = [layer.digest for layer in info.layers]
        limit = self.limits.max_file_bytes
        if self.cache is not None and not direct:
            hit_image = self.cache.get_image(digests, self.catalogers, limit)
            if hit_image is not None:  # nothing changed: no layer facts to load, no merge
                for layer in info.layers:
                    tick(layer)
                bare = tuple(LayerFacts(layer.digest, layer.diff_id) for layer in info.layers)
                return ScanInventory(info, hit_image[0], hit_image[1], bare)
        todo: list[int] = []
        for i, layer in enumerate(info.layers):
            hit = None
            if self.cache is not None and not direct:
                hit = self.cache.get(layer.digest, self.catalogers, self.limits.max_file_bytes)
            if hit is not None:
                budget.add(hit)
                results[i] = hit
                tick(layer)
            else:
                todo.append(i)
        if todo:
            # duplicate blobs in one image (it happens) are read once
            first: dict[str, int] = {}
            # The biggest layer is the critical path: start it first. Threads beyond the cores
            # only contend for the GIL between inflate calls.
            workers = min(self.max_workers, len(todo), os.cpu_count() or 1)
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                futures: dict[Future[LayerFacts], int] = {}
                for i in sorted(todo, key=lambda i: -info.layers[i].size):
                    d = info.layers[i].digest
                    if d in first:
                        continue
                    first[d] = i
                    futures[pool.submit(self._read, source, info.layers[i])] = i
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for fut in finished:
                        exc = fut.exception()
                        if exc is not None:
                            for other in pending:
                                other.cancel()
                            raise exc
                        try:
                            budget.add(fut.result())
                        except BaseException:
                            for other in pending:
                                other.cancel()
                            raise
                        results[futures[fut]] = fut.result()
                        tick(info.layers[futures[fut]])
            for i in todo:
                if results[i] is None:
                    results[i] = results[first[info.layers[i].digest]]
                    tick(info.layers[i])
        from patchwarden.scan.merge import merge_layers

        layers = tuple(r for r in results if r is not None)
        os_info, packages = merge_layers(layers)
        if self.cache is not None and not direct:
            self.cache.put_image(digests, self.catalogers, limit, os_info, packages)
        return ScanInventory(image=info, os=os_info, packages=packages, layers=layers)
