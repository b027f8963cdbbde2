"""``engine``: an image straight from the local Docker or Podman engine, as Trivy's
``--image-src docker`` does: the Engine API's image export (``docker save``), spooled to a
private temporary file and read as a docker-archive. Nothing is pulled: the image must be in
the engine's store (built there, or pulled earlier)."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from patchwarden.registry.model import Platform
from patchwarden.scan.errors import ScanError
from patchwarden.scan.model import ImageInfo, LayerRef
from patchwarden.scan.sources.archive import ArchiveSource
from patchwarden.scan.sources.unpack import MAX_ARCHIVE_BYTES, remove_at_exit, spool


class EngineImageSource:
    def __init__(
        self,
        name: str,
        platform: Platform,
        engine_url: str | None = None,
        max_bytes: int = MAX_ARCHIVE_BYTES,
    ) -> None:
        from patchwarden.engine.client import EngineClient

        self.name = name
        engine = EngineClient(engine_url)
        path = spool(
            engine.export_image(name),
            max_bytes,
            too_big=ScanError(
                f"image {name} from the engine is larger than {max_bytes // (1 << 20)} MiB",
                "export it yourself (`docker save`) and scan the file with --archive",
            ),
        )
        self._remove: Callable[[], None] = remove_at_exit(self, path)
        self._archive = ArchiveSource(str(path), platform, shown=f"engine:{name}")

    def describe(self) -> ImageInfo:
        info = self._archive.describe()
        return ImageInfo(
            f"engine:{self.name}", info.digest, info.platform, info.layers, info.config
        )

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        return self._archive.open_layer(layer)

    def close(self) -> None:
        self._archive.close()
        self._remove()
