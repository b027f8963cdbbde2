"""``scan`` inside ``serve``: the use case's engine with one registry client kept for the
process (connection pools, bearer tokens), where the CLI builds one per run."""

from __future__ import annotations

import threading

from patchwarden.app.scan import DefaultEngine
from patchwarden.config.schema import Config
from patchwarden.registry.client import RegistryClient


class ServeScanEngine(DefaultEngine):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._lock = threading.Lock()
        self._registry: RegistryClient | None = None

    def _client(self) -> RegistryClient:
        with self._lock:
            if self._registry is None:
                self._registry = super()._client()
            return self._registry
