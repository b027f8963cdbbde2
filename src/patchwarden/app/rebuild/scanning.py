"""The scan gate's scanner: the built-in scanner and the local advisory index."""

from __future__ import annotations

import threading
from pathlib import Path

from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.core.ref import ImageRef
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.model import Platform
from patchwarden.scan.model import Finding, ScanInventory
from patchwarden.scan.scanner import Scanner


class IndexScanner:
    def __init__(
        self, scanner: Scanner, index: AdvisoryIndex, client: RegistryClient, platform: Platform
    ) -> None:
        self._scanner = scanner
        self._index = index
        self._client = client
        self._platform = platform
        self._lock = threading.Lock()

    def _match(self, source: object) -> list[Finding]:
        return self.inventory(source)[1]

    def inventory(self, source: object) -> tuple[ScanInventory, list[Finding]]:
        """Packages, OS and findings of an :class:`ImageSource`."""
        from patchwarden.advisories.match import match

        inventory = self._scanner.scan(source)  # type: ignore[arg-type]
        with self._lock:
            return inventory, match(self._index, inventory.packages, inventory.os)

    def open_layout(self, layout: Path, tag: str) -> object:
        from patchwarden.scan.sources import open_source

        return open_source("oci-layout", f"{layout}:{tag}", platform=self._platform)

    def open_registry(self, image: ImageRef) -> object:
        from patchwarden.scan.sources import open_source

        return open_source("registry", str(image), registry=self._client, platform=self._platform)

    def scan_layout(self, layout: Path, tag: str) -> list[Finding]:
        from patchwarden.scan.sources import open_source

        return self._match(open_source("oci-layout", f"{layout}:{tag}", platform=self._platform))

    def scan_registry(self, image: ImageRef) -> list[Finding]:
        from patchwarden.scan.sources import open_source

        source = open_source("registry", str(image), registry=self._client, platform=self._platform)
        return self._match(source)
