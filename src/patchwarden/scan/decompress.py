"""Digest-verifying, compression-sniffing, size-capped readers for layer blobs."""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from collections.abc import Callable
from typing import IO, Any, BinaryIO, Protocol, cast

import zstandard

from patchwarden.scan.errors import CorruptImageError, HostileLayerError, LayerDigestError, short

try:  # isal's igzip is several times faster than zlib; zlib is the fallback
    from isal import igzip as _gzip
    from isal.isal_zlib import error as _IsalError

    GZIP_ERRORS: tuple[type[BaseException], ...] = (
        cast(type[BaseException], _IsalError),
        zlib.error,
        EOFError,
        OSError,
    )
except ImportError:  # pragma: no cover - isal is a hard dependency, but stay usable without it
    import gzip as _gzip  # type: ignore[no-redef]

    GZIP_ERRORS = (zlib.error, EOFError, OSError)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20
_DECODE_ERRORS: tuple[type[BaseException], ...] = (*GZIP_ERRORS, zstandard.ZstdError, ValueError)


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class HashingReader:
    """Passes a blob through while hashing it; :meth:`verify` drains and compares at EOF."""

    def __init__(self, raw: BinaryIO, expected: str) -> None:
        self.raw = raw
        self.expected = expected
        alg = expected.partition(":")[0]
        try:
            self._h = hashlib.new(alg if alg in ("sha256", "sha512") else "sha256")
        except ValueError:  # pragma: no cover - hashlib always has sha256
            self._h = hashlib.sha256()
        self._pushback = b""
        self.nbytes = 0
        self._hasher: _Hasher | None = None

    def peek(self, n: int) -> bytes:
        """The first ``n`` bytes without consuming them (only valid before any read)."""
        while len(self._pushback) < n:
            chunk = self._read_raw(n - len(self._pushback))
            if not chunk:
                break
            self._pushback += chunk
        return self._pushback[:n]

    def _read_raw(self, n: int) -> bytes:
        data = self.raw.read(n)
        if data:
            if self._hasher is not None:
                self._hasher.put(data)
            else:
                self._h.update(data)
            self.nbytes += len(data)
        return data

    def abandon(self) -> None:
        if self._hasher is not None:
            self._hasher.abandon()

    def hash_in_thread(self) -> None:
        """Hash on a separate thread (hashlib releases the GIL), off the inflate path."""
        if self._hasher is None:
            self._hasher = _Hasher(self._h)

    def read(self, n: int = -1, /) -> bytes:
        if self._pushback:
            if n < 0 or n >= len(self._pushback):
                head, self._pushback = self._pushback, b""
                more = self._read_raw(n - len(head)) if n < 0 or n > len(head) else b""
                return head + more
            head, self._pushback = self._pushback[:n], self._pushback[n:]
            return head
        return self._read_raw(n if n >= 0 else -1)

    def readinto(self, b: bytearray | memoryview) -> int:
        data = self.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def readable(self) -> bool:
        return True

    def verify(self) -> str:
        """Read to EOF and raise :class:`LayerDigestError` unless the digest matches."""
        self._pushback = b""
        while self._read_raw(CHUNK):
            pass
        if self._hasher is not None:
            self._hasher.finish()
        actual = f"{self._h.name}:{self._h.hexdigest()}"
        if actual != self.expected:
            raise LayerDigestError(self.expected, actual)
        return actual


class _Hasher:
    """Feeds chunks to a hash object on its own thread."""

    def __init__(self, h: Any) -> None:
        self._h = h
        self._q: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, name="layer-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._q.get()) is not None:
            self._h.update(chunk)

    def put(self, chunk: bytes) -> None:
        self._q.put(chunk)

    def finish(self) -> None:
        self._q.put(None)
        self._thread.join()

    def abandon(self) -> None:
        """Stop without a result (on an error): drop what is queued, then end the thread."""
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._q.put(None)
        self._thread.join()


class CappedReader:
    """Counts decompressed bytes (bomb guard) and turns decoder errors into ours."""

    def __init__(self, inner: Readable, limit: int, layer: str, compression: str) -> None:
        self.inner = inner
        self.limit = limit
        self.layer = layer
        self.compression = compression
        self.total = 0

    def read(self, n: int = -1, /) -> bytes:
        try:
            data = self.inner.read(n)
        except _DECODE_ERRORS as exc:
            raise CorruptImageError(
                f"layer {short(self.layer)}: {self.compression} data is corrupt or truncated "
                f"({exc or type(exc).__name__})",
                "the blob is damaged; pull/copy the image again",
            ) from exc
        self.total += len(data)
        if self.total > self.limit:
            raise HostileLayerError(
                self.layer,
                f"layer expands beyond {self.limit} bytes; possible decompression bomb",
            )
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def sniff(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "tar"


def open_decompressed(raw: HashingReader, limit: int, layer: str) -> CappedReader:
    """Detect the compression by magic bytes (not media type) and wrap a streaming decoder."""
    kind = sniff(raw.peek(4))
    inner: Readable
    if kind == "gzip":
        inner = _gzip.GzipFile(fileobj=cast(IO[bytes], raw), mode="rb")  # type: ignore[no-untyped-call]
    elif kind == "zstd":
        inner = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], raw), read_size=CHUNK, read_across_frames=True
        )
    else:
        inner = raw
    return CappedReader(inner, limit, layer, kind)


class Prefetcher:
    """Runs ``read`` (inflate + hash) in a thread, up to ``depth`` chunks ahead of the parser.

    ISA-L, zstd and hashlib release the GIL, so decompression overlaps with tar parsing.
    Errors raised by ``read`` are re-raised by :meth:`read` in the consuming thread.
    """

    def __init__(self, read: Callable[[int], bytes], depth: int = 4) -> None:
        self._q: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=self._run, args=(read,), name="layer-inflate", daemon=True
        )
        self._thread.start()

    def _run(self, read: Callable[[int], bytes]) -> None:
        try:
            while not self._stop.is_set():
                chunk = read(CHUNK)
                self._put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, n: int = -1, /) -> bytes:
        if self._done:
            return b""
        item = self._q.get()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        if not item:
            self._done = True
        return item

    def finish(self) -> None:
        """Consume to the end of the stream (the producer drains the blob), then join."""
        while self.read(CHUNK):
            pass
        self._thread.join()

    def close(self) -> None:
        """Stop early (on an error): unblock and join the producer."""
        self._stop.set()
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._thread.join()
