"""``db update``: keep ecosystems current from an OSV bucket layout.

Layout under ``base_url`` (osv.dev's public bucket)::

    <base>/<Ecosystem>/all.zip            every record, one JSON per member
    <base>/<Ecosystem>/modified_id.csv    "<iso-modified>,<id>" rows, newest first
    <base>/<Ecosystem>/<ID>.json          one record

First update of an ecosystem (no ``cursor`` in ``sources``): download ``all.zip`` and take the
newest ``modified`` of ``modified_id.csv`` (else of the zip's records) as the cursor. Later
updates: fetch ``modified_id.csv`` (conditional on its ETag: 304 = nothing to do), download
only the records modified after the cursor, move the cursor. Each ecosystem is one
transaction: a failure leaves that ecosystem (and the whole index) as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from patchwarden.advisories.fetch import MiB, fetch, new_client
from patchwarden.advisories.importer import ImportReport, add_document, iter_zip
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.osv import normalize_timestamp
from patchwarden.errors import PatchwardenError

DEFAULT_BASE_URL = "https://osv-vulnerabilities.storage.googleapis.com"
Progress = Callable[[str, int, int | None], None]  # (what, done, total)


@dataclass(slots=True)
class EcosystemUpdate:
    ecosystem: str
    mode: str  # "full" | "incremental" | "unchanged"
    report: ImportReport
    error: PatchwardenError | None = None


def _url(base_url: str, ecosystem: str, leaf: str) -> str:
    return f"{base_url.rstrip('/')}/{quote(ecosystem, safe='')}/{quote(leaf, safe='')}"


def parse_modified_csv(text: str) -> list[tuple[str, str]]:
    """``(normalised modified, id)`` rows of a ``modified_id.csv``; bad rows are skipped."""
    rows: list[tuple[str, str]] = []
    for line in text.splitlines():
        stamp, _, rid = line.strip().partition(",")
        norm = normalize_timestamp(stamp)
        if norm and rid.strip():
            rows.append((norm, rid.strip()))
    return rows


def update_ecosystem(
    index: AdvisoryIndex,
    client: httpx.Client,
    base_url: str,
    ecosystem: str,
    *,
    max_bytes: int = 1024 * MiB,
    progress: Progress | None = None,
) -> EcosystemUpdate:
    report = ImportReport()
    csv_url = _url(base_url, ecosystem, "modified_id.csv")
    current = index.source(ecosystem)
    cursor = current.cursor if current and current.record_count else None
    etag = current.etag if current and cursor else None
    csv = fetch(client, csv_url, max_bytes=256 * MiB, etag=etag)
    if csv.status == 304:
        return EcosystemUpdate(ecosystem, "unchanged", report)
    rows = parse_modified_csv(csv.body.decode("utf-8", "replace"))
    newest = max((m for m, _ in rows), default=None)
    if cursor is None:
        zip_url = _url(base_url, ecosystem, "all.zip")

        def tick(done: int, total: int | None) -> None:
            if progress:
                progress(f"downloading {ecosystem}/all.zip", done, total)

        got = fetch(client, zip_url, max_bytes=max_bytes, to_file=True, progress=tick)
        assert got.path is not None  # noqa: S101 - type narrowing; the caller checked it
        try:
            with index.writer() as batch:
                for n, (where, data) in enumerate(iter_zip(got.path, zip_url), 1):
                    add_document(batch, report, where, data)
                    if progress and n % 500 == 0:
                        progress(f"importing {ecosystem}", n, None)
                batch.set_source(
                    ecosystem, zip_url, cursor=newest or batch.newest or None, etag=csv.etag
                )
                report.absorb(batch)
        finally:
            got.path.unlink(missing_ok=True)
        return EcosystemUpdate(ecosystem, "full", report)
    wanted = [rid for m, rid in rows if m > cursor]
    bodies: list[tuple[str, bytes]] = []
    for n, rid in enumerate(wanted, 1):
        url = _url(base_url, ecosystem, f"{rid}.json")
        bodies.append((url, fetch(client, url, max_bytes=64 * MiB).body))
        if progress:
            progress(f"downloading {ecosystem} changes", n, len(wanted))
    with index.writer() as batch:  # all downloads done first: the transaction stays short
        for where, data in bodies:
            add_document(batch, report, where, data)
        batch.set_source(ecosystem, csv_url, cursor=newest or cursor, etag=csv.etag)
        report.absorb(batch)
    return EcosystemUpdate(ecosystem, "incremental", report)


def update(
    index: AdvisoryIndex,
    ecosystems: Sequence[str],
    *,
    base_url: str = DEFAULT_BASE_URL,
    max_bytes: int = 1024 * MiB,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
) -> list[EcosystemUpdate]:
    """Update each ecosystem independently; a failed one carries its error, the rest go on."""
    http = client or new_client()
    results: list[EcosystemUpdate] = []
    try:
        for eco in ecosystems:
            try:
                results.append(
                    update_ecosystem(
                        index, http, base_url, eco, max_bytes=max_bytes, progress=progress
                    )
                )
            except PatchwardenError as exc:
                results.append(EcosystemUpdate(eco, "failed", ImportReport(), exc))
    finally:
        if client is None:
            http.close()
    return results
