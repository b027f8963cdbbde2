"""One streaming pass over one layer blob: verify, decompress, walk the tar, catalog."""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

from patchwarden.scan.decompress import HashingReader, Prefetcher, open_decompressed
from patchwarden.scan.errors import CorruptImageError, HostileLayerError, TooManyFacts, short
from patchwarden.scan.limits import Limits
from patchwarden.scan.model import Cataloger, FileEntry, FileFacts, LayerFacts, LayerRef
from patchwarden.scan.tarsafety import normalize, whiteout
from patchwarden.scan.tarstream import TarReader

log = logging.getLogger(__name__)


def merge_facts(a: FileFacts, b: FileFacts) -> FileFacts:
    return FileFacts(
        packages=a.packages + b.packages,
        owned_paths=a.owned_paths + b.owned_paths,
        os=a.os if a.os is not None else b.os,
        problems=a.problems + b.problems,
    )


class Collector:
    """Asks catalogers about files and gathers their facts; a failing cataloger is a warning."""

    def __init__(self, catalogers: Sequence[Cataloger], limits: Limits, layer: str) -> None:
        self.catalogers = tuple(catalogers)
        self.limits = limits
        self.layer = layer
        self.files: dict[str, FileFacts] = {}
        self.whiteouts: dict[str, None] = {}
        self.opaque: dict[str, None] = {}
        self.links: dict[str, str] = {}  # hard link path -> catalogued target path
        self.warnings: list[str] = []
        self.packages = 0  # found in this layer so far (bounded: limits.max_packages)
        self.owned = 0

    def _warn(self, text: str) -> None:
        msg = f"layer {short(self.layer)}: {text}"
        log.debug("%s", msg)  # reported with the scan's result (ScanOutcome.warnings)
        self.warnings.append(msg)

    def wanting(self, path: str, mode: int, size: int) -> list[Cataloger]:
        out: list[Cataloger] = []
        for c in self.catalogers:
            try:
                if c.wants(path, mode, size):
                    out.append(c)
            except Exception as exc:
                self._warn(f"cataloger {c.name} failed on {path}: {exc!r}")
        return out

    def too_big(self, path: str, size: int, wanting: Sequence[Cataloger] = ()) -> bool:
        """Over the per-file limit: the scan-wide one, or the smallest ``max_bytes`` of the
        catalogers that would hold this file whole (text databases declare small ones)."""
        cap = self.limits.max_file_bytes
        if not (len(wanting) == 1 and _streams(wanting[0], size)):  # held whole in memory
            for c in wanting:
                cap = min(cap, getattr(c, "max_bytes", cap))
        if size <= cap:
            return False
        self._warn(f"skipped {path}: {size} bytes is more than the {cap}-byte per-file limit")
        return True

    def _record(self, path: str, facts: FileFacts) -> None:
        self.packages += len(facts.packages)
        self.owned += len(facts.owned_paths)
        if self.packages > self.limits.max_packages:
            raise HostileLayerError(
                self.layer,
                f"more than {self.limits.max_packages} packages (at {path}); possible "
                "package-database bomb",
            )
        if self.owned > self.limits.max_owned_paths:
            raise HostileLayerError(
                self.layer,
                f"package databases list more than {self.limits.max_owned_paths} paths "
                f"(at {path}); possible package-database bomb",
            )
        self.files[path] = facts

    def catalog(self, wanting: list[Cataloger], entry: FileEntry) -> None:
        facts: FileFacts | None = None
        for c in wanting:
            try:
                got = c.catalog(entry)
            except TooManyFacts as exc:
                raise HostileLayerError(
                    self.layer, f"{entry.path}: {exc}; possible package-database bomb"
                ) from None
            except Exception as exc:
                self._warn(f"cataloger {c.name} failed on {entry.path}: {exc!r}")
                continue
            if not isinstance(got, FileFacts):
                self._warn(f"cataloger {c.name} returned {type(got).__name__} for {entry.path}")
                continue
            self._problems(c, got)
            facts = got if facts is None else merge_facts(facts, got)
        # recorded even when empty: this file replaces whatever lower layers had at the path
        self._record(entry.path, facts if facts is not None else FileFacts())

    def catalog_stream(
        self, c: Any, path: str, mode: int, size: int, chunks: Iterator[bytes]
    ) -> None:
        try:
            got = c.catalog_stream(path, mode, size, chunks)
        except Exception as exc:
            self._warn(f"cataloger {c.name} failed on {path}: {exc!r}")
            got = FileFacts()
        for _ in chunks:  # whatever the cataloger left unread
            pass
        if isinstance(got, FileFacts):
            self._problems(c, got)
        self._record(path, got if isinstance(got, FileFacts) else FileFacts())

    def link(self, path: str, target: str) -> None:
        """A hard link to ``target`` (catalogued in this layer): the same file, not re-read."""
        self.files[path] = FileFacts()
        self.links[path] = target

    def _problems(self, c: Cataloger, facts: FileFacts) -> None:
        for problem in facts.problems:
            self._warn(f"cataloger {c.name}: {problem}")

    def facts(self, layer: LayerRef, entries: int) -> LayerFacts:
        return LayerFacts(
            digest=layer.digest,
            diff_id=layer.diff_id,
            files=dict(sorted(self.files.items())),
            whiteouts=tuple(sorted(self.whiteouts)),
            opaque_dirs=tuple(sorted(self.opaque)),
            entries=entries,
            warnings=tuple(self.warnings),
            links={p: t for p, t in sorted(self.links.items()) if p in self.files},
        )


def read_layer(
    blob: BinaryIO, layer: LayerRef, catalogers: Sequence[Cataloger], limits: Limits
) -> LayerFacts:
    """Read ``blob`` (the raw layer) once; raise on hostile/corrupt input or a bad digest."""
    digest = layer.digest
    raw = HashingReader(blob, digest)
    data = open_decompressed(raw, limits.max_layer_bytes, digest)
    raw.hash_in_thread()
    diff = _DiffId(data.read, layer) if _check_diff_id(layer) else None
    ahead = Prefetcher(diff.read if diff is not None else data.read)
    try:
        col, entries = _walk(TarReader(ahead.read, digest), layer, catalogers, limits)
        ahead.finish()
    except BaseException:
        ahead.close()
        raw.abandon()
        raise
    raw.verify()
    if diff is not None:
        diff.verify()
    return col.facts(layer, entries)


def _check_diff_id(layer: LayerRef) -> bool:
    d = layer.diff_id
    return d is not None and d != layer.digest and d.startswith("sha256:")


class _DiffId:
    """The uncompressed stream's SHA-256 against the config's diff_id (hashed on the
    prefetch thread: hashlib releases the GIL, so it overlaps the tar walk)."""

    def __init__(self, read: Callable[[int], bytes], layer: LayerRef) -> None:
        self._read = read
        self._h = hashlib.sha256()
        self.layer = layer

    def read(self, n: int) -> bytes:
        chunk = self._read(n)
        self._h.update(chunk)
        return chunk

    def verify(self) -> None:
        actual = "sha256:" + self._h.hexdigest()
        if actual != self.layer.diff_id:
            raise CorruptImageError(
                f"layer {short(self.layer.digest)} does not match the image config: its "
                f"content is {actual}, the config's diff_id says {self.layer.diff_id}",
                "the image config and its layers disagree (tampered or mis-assembled "
                "image); pull/copy the image again, or rebuild it",
            )


def _streams(c: Cataloger, size: int) -> bool:
    limit = getattr(c, "stream_above", None)
    return limit is not None and size > limit and hasattr(c, "catalog_stream")


def _streamer(wanting: list[Cataloger], size: int) -> Any | None:
    """The one cataloger that wants this file and reads files this large as a stream."""
    return wanting[0] if len(wanting) == 1 and _streams(wanting[0], size) else None


def _walk(
    tar: TarReader, layer: LayerRef, catalogers: Sequence[Cataloger], limits: Limits
) -> tuple[Collector, int]:
    digest = layer.digest
    col = Collector(catalogers, limits, digest)
    entries = 0
    # catalogued paths of this layer, for hard links to them: a link is the same file, so it
    # is never read nor catalogued again (100 links to a 1 MiB status.d file cost nothing)
    catalogued: set[str] = set()
    for member in tar:
        entries += 1
        if entries > limits.max_entries:
            raise HostileLayerError(
                digest, f"more than {limits.max_entries} tar entries; possible tar bomb"
            )
        if member.size > limits.max_layer_bytes:
            raise HostileLayerError(
                digest,
                f"tar entry {member.name!r} claims {member.size} bytes, more than the "
                f"{limits.max_layer_bytes}-byte layer limit; possible decompression bomb",
            )
        path = normalize(member.name, digest)
        if not path or member.isdir:
            continue
        col.files.pop(path, None)  # a later entry for the same path replaces it
        col.links.pop(path, None)
        catalogued.discard(path)
        wh = whiteout(path)
        if wh is not None:
            kind, target = wh
            if kind == "delete":
                col.whiteouts[target] = None
            elif kind == "opaque":
                col.opaque[target] = None
            continue
        mode = stat.S_IFREG | (member.mode & 0o7777)
        if member.isreg:
            wanting = col.wanting(path, mode, member.size)
            if not wanting or col.too_big(path, member.size, wanting):
                continue
            catalogued.add(path)
            streamer = _streamer(wanting, member.size)
            if streamer is not None:  # large, and its only reader takes it in pieces
                col.catalog_stream(streamer, path, mode, member.size, tar.iter_data())
                continue
            content = tar.read_data()
            col.catalog(wanting, FileEntry(path, content, mode, member.size))
        elif member.islnk:
            target = normalize(member.linkname, digest)
            if target in catalogued:
                col.link(path, col.links.get(target, target))
                catalogued.add(path)
                continue
            if col.wanting(path, mode, 0):
                col.files[path] = FileFacts()  # replaces a lower file; unreadable here
        elif member.issym and col.wanting(path, stat.S_IFLNK | (member.mode & 0o7777), 0):
            col.files[path] = FileFacts()  # a symlink hides a lower file at the same path
    return col, entries
