"""``scan`` inside ``serve``: the use case's pipeline with one registry client kept for the
process (connection pools, bearer tokens), where the CLI builds one per run."""

from __future__ import annotations

import threading
from typing import Any

from patchwarden.config.schema import Config


def build_serve_scan(config: Config, shared: Any = None) -> Any:
    """``shared``: layer facts shared with the fleet's workers (``queue.broker_url`` set)."""
    from patchwarden.app.scan.pipeline import ImagePipeline
    from patchwarden.app.wiring import build_client, build_scanner

    lock = threading.Lock()
    kept: list[Any] = []

    def registry() -> Any:
        with lock:
            if not kept:
                kept.append(build_client(config))
            return kept[0]

    return ImagePipeline(
        build_scanner(config, shared=shared), registry, configured_db=config.advisories.db_path
    )
