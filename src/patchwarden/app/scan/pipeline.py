"""The real scan pipeline: image source → scanner → advisory index → matcher.

Handed its parts by :func:`patchwarden.app.wiring.build_scan_pipeline`; it builds nothing
itself. The registry client (and httpx) loads only for registry targets, the advisory index
(and SQLite, pydantic, univers) only when matching.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from patchwarden.app.scan.run import LayerProgress, ScanTarget
from patchwarden.registry.model import BlobRegistry, Platform
from patchwarden.scan.model import Finding, ImageSource, ScanInventory

if TYPE_CHECKING:
    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.config.schema import AdvisoriesConfig
    from patchwarden.core.ref import ImageRef
    from patchwarden.scan.scanner import Scanner


class ImagePipeline:
    """Implements :class:`patchwarden.app.scan.run.ScanPipeline` (on an :class:`AdvisoryIndex`)."""

    def __init__(
        self,
        scanner: Scanner,
        registry: Callable[[], BlobRegistry],
        *,
        configured_db: str | None = None,
        advisories: AdvisoriesConfig | None = None,
    ) -> None:
        self.scanner = scanner
        self._registry = registry
        self.configured_db = configured_db
        self.advisories = advisories  # max_age, auto_update (None: no config file)

    def open_source(self, target: ScanTarget, platform: Platform | None) -> ImageSource:
        from patchwarden.scan.sources import open_source

        registry = self._registry() if target.kind == "registry" else None
        return open_source(
            target.kind,
            target.target,
            registry=registry,
            platform=platform,
            engine_url=target.engine_url,
        )

    def resolve(self, image: ImageRef) -> str:
        """The digest a tag names now (a HEAD request: Docker Hub does not count it)."""
        return self._registry().head_manifest(image).digest

    def inventory(self, source: ImageSource, progress: LayerProgress | None) -> ScanInventory:
        return self.scanner.scan(source, progress)

    def index_path(self, db: Path | None) -> Path:
        from patchwarden.advisories.dbpath import resolve_db_path

        return resolve_db_path(db, self.configured_db)

    def open_index(self, path: Path) -> AdvisoryIndex | None:
        from patchwarden.advisories.index import AdvisoryIndex

        upgrade = self.advisories is not None and self.advisories.auto_update
        return AdvisoryIndex(path, upgrade=upgrade) if path.is_file() else None

    def match(self, index: AdvisoryIndex, inventory: ScanInventory) -> list[Finding]:
        from patchwarden.advisories.match import match

        try:
            found: list[Finding] = match(index, inventory.packages, inventory.os)
        finally:
            index.close()
        return found

    def freshness(self, index: AdvisoryIndex) -> str | None:
        from patchwarden.advisories.freshness import refresh_if_stale

        return refresh_if_stale(index, self.advisories)
