"""``db import``: OSV records from directories, JSON files, ``all.zip`` dumps and URLs.

All sources of one call are imported in ONE transaction: any fatal error (a zip that is not
a zip, a corrupt zip member, a download failure, an interrupt) rolls everything back and the
previous index stays as it was. A single malformed record is not fatal: it is skipped and
reported in :attr:`ImportReport.malformed` with the file (or ``zip!member``) it came from.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from patchwarden.advisories.batch import ImportBatch
from patchwarden.advisories.cve_import import kind_of, metrics_of
from patchwarden.advisories.fetch import MiB, fetch, new_client
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.osv import parse_record
from patchwarden.errors import UsageError

Progress = Callable[[int, int | None], None]
MAX_RECORD_BYTES = 64 * MiB


class AdvisoryImportError(UsageError):
    """An import source cannot be read at all (missing, not a zip, corrupt archive)."""


@dataclass(slots=True)
class ImportReport:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    malformed: list[tuple[str, str]] = field(default_factory=list)  # (where, why)
    ecosystems: set[str] = field(default_factory=set)
    cve_scores: int = 0  # CVSS vectors stored from NVD / CVE JSON documents

    @property
    def seen(self) -> int:
        return self.added + self.replaced + self.unchanged + len(self.malformed)

    def absorb(self, batch: ImportBatch) -> None:
        self.added, self.replaced, self.unchanged = batch.added, batch.replaced, batch.unchanged
        self.ecosystems |= batch.bases | set(batch.cve_origins)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def iter_zip(path: Path, label: str) -> Iterator[tuple[str, bytes]]:
    """(``label!member``, bytes) for every ``*.json`` member of an OSV ``all.zip``."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AdvisoryImportError(
            f"{label} is not a readable zip archive ({exc})",
            "pass an OSV all.zip, a directory of *.json records, or a single .json record",
        ) from None
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            where = f"{label}!{info.filename}"
            if info.file_size > MAX_RECORD_BYTES:
                raise AdvisoryImportError(f"{where} is larger than {MAX_RECORD_BYTES // MiB} MiB")
            try:
                yield where, archive.read(info)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise AdvisoryImportError(
                    f"{where}: the archive is corrupt ({exc}); nothing was imported",
                    "download the archive again",
                ) from None


def iter_path(path: Path) -> Iterator[tuple[str, bytes]]:
    """Records from a directory (``*.json``, recursively), a ``.json`` file or a zip."""
    if path.is_dir():
        for f in sorted(path.rglob("*.json")):
            if f.is_file():
                yield str(f), f.read_bytes()
        for z in sorted(path.rglob("*.zip")):
            yield from iter_zip(z, str(z))
    elif path.is_file():
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic == b"PK\x03\x04" or path.suffix == ".zip":
            yield from iter_zip(path, str(path))
        else:
            yield str(path), path.read_bytes()
    else:
        raise AdvisoryImportError(
            f"{path} does not exist", "pass a directory, a .json record, an all.zip or a URL"
        )


def add_document(batch: ImportBatch, report: ImportReport, where: str, data: bytes) -> None:
    """Parse one file's bytes (one record, a list, or an OSV API ``{"vulns": [...]}``; or CVSS
    scores from an NVD CVE API 2.0 response or a CVE JSON 5 record, see :mod:`.cve_import`)."""
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.malformed.append((where, f"not JSON: {exc}"))
        return
    cve_kind = kind_of(obj)
    if cve_kind is not None:
        report.cve_scores += batch.add_cve_metrics(metrics_of(obj, cve_kind), cve_kind, where)
        report.ecosystems.add(cve_kind)
        return
    items = obj.get("vulns", [obj]) if isinstance(obj, dict) else obj
    if not isinstance(items, list):
        items = [items]
    for item in items:
        try:
            rec = parse_record(item)
        except ValueError as exc:
            report.malformed.append((where, str(exc)))
            continue
        batch.add(rec)


def import_sources(
    index: AdvisoryIndex,
    sources: Sequence[str],
    *,
    max_bytes: int = 1024 * MiB,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every source in one transaction; see the module docstring for failure rules."""
    report = ImportReport()
    own_client = client is None and any(is_url(s) for s in sources)
    http = new_client() if own_client else client
    spooled: list[Path] = []
    try:
        with index.writer() as batch:
            for source in sources:
                if is_url(source):
                    assert http is not None  # noqa: S101 - type narrowing; the caller checked it
                    got = fetch(http, source, max_bytes=max_bytes, to_file=True)
                    assert got.path is not None  # noqa: S101 - type narrowing; the caller checked it
                    spooled.append(got.path)
                    docs = (
                        iter_zip(got.path, source) if _is_zip(got.path) else _one(source, got.path)
                    )
                else:
                    docs = iter_path(Path(source))
                before = set(batch.bases)
                for where, data in docs:
                    add_document(batch, report, where, data)
                    if progress:
                        progress(batch.added + batch.replaced + batch.unchanged, None)
                for base in batch.bases - before:
                    batch.set_source(base, source)
            report.absorb(batch)
    finally:
        if own_client and http is not None:
            http.close()
        for p in spooled:
            p.unlink(missing_ok=True)
    return report


def _is_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _one(label: str, path: Path) -> Iterator[tuple[str, bytes]]:
    yield label, path.read_bytes()
