"""``registry``: an image in an OCI distribution registry, layers streamed on demand."""

from __future__ import annotations

import contextlib
from typing import IO, Any, BinaryIO, cast

from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.model import Platform
from patchwarden.scan.errors import CorruptImageError
from patchwarden.scan.model import ImageInfo, LayerRef
from patchwarden.scan.sources.oci import MAX_CONFIG, image_info, load_config


class _ClosingStream:
    """The blob stream; closing it ends the HTTP response (and frees the host slot)."""

    def __init__(self, stack: contextlib.ExitStack, stream: IO[bytes]) -> None:
        self._stack = stack
        self._stream = stream

    def read(self, n: int = -1, /) -> bytes:
        return self._stream.read(n)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stack.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class RegistrySource:
    def __init__(
        self, target: str, platform: Platform, registry: RegistryClient | None = None
    ) -> None:
        self.ref: ImageRef = parse_reference(target)
        self.platform = platform
        self._owned = registry is None
        self.client = registry if registry is not None else RegistryClient()
        self._info: ImageInfo | None = None

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def describe(self) -> ImageInfo:
        if self._info is None:
            m = self.client.resolve_platform(self.ref, self.platform)
            where = str(self.ref)
            if m.config is None:
                raise CorruptImageError(f"manifest of {where} names no config blob")
            raw = self.client.get_blob(self.ref, m.config.digest, MAX_CONFIG)
            config = load_config(raw, where)
            layers = [(d.digest, d.media_type, d.size) for d in m.layers]
            self._info = image_info(where, m.digest, config, layers)
        return self._info

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        stack = contextlib.ExitStack()
        try:
            stream = stack.enter_context(self.client.open_blob(self.ref, layer.digest))
        except BaseException:
            stack.close()
            raise
        return cast(BinaryIO, _ClosingStream(stack, stream))
