"""Writing OSV records and NVD/CVE scores into the advisory index, inside the one
transaction :meth:`AdvisoryIndex.writer <patchwarden.advisories.index.AdvisoryIndex.writer>`
opens, and the per-source bookkeeping (counts, cursors, ETags) done when it commits."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from patchwarden.advisories.osv import OSVRecord, normalize_timestamp
from patchwarden.advisories.rows import (
    CveMetric,
    normalize_name,
    now_iso,
    record_keys,
    split_versions,
)

_BULKY = ("binaries", "imports", "affected_functions")


class ImportBatch:
    """Writes records inside one open transaction (see :meth:`AdvisoryIndex.writer`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.added = 0
        self.replaced = 0
        self.unchanged = 0
        self.newest = ""  # the newest normalised ``modified`` added in this batch
        self.bases: set[str] = set()
        self.cve_origins: dict[str, str] = {}  # "NVD"/"CVE" -> where the last import came from

    def add(self, rec: OSVRecord) -> bool:
        """Store ``rec`` unless the index holds the same id with the same or newer ``modified``."""
        modified = normalize_timestamp(rec.modified)
        self.newest = max(self.newest, modified)
        row = self._conn.execute("SELECT modified FROM records WHERE id = ?", (rec.id,)).fetchone()
        if row is not None:
            if row[0] >= modified:
                self.unchanged += 1
                return False
            self._conn.execute("DELETE FROM affected WHERE record_id = ?", (rec.id,))
            self._conn.execute("DELETE FROM aliases WHERE record_id = ?", (rec.id,))
            self.replaced += 1
        else:
            self.added += 1
        url = next((r.url for r in rec.references if r.type == "ADVISORY"), None)
        self._conn.execute(
            "INSERT OR REPLACE INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                rec.id,
                modified,
                rec.published,
                rec.withdrawn,
                json.dumps(rec.aliases),
                json.dumps(rec.upstream),
                json.dumps(rec.related),
                rec.summary,
                rec.details[:500],
                json.dumps([s.model_dump(include={"type", "score"}) for s in rec.severity]),
                json.dumps(rec.database_specific) if rec.database_specific else None,
                url,
            ),
        )
        keys = record_keys(rec.id, rec.aliases, rec.upstream)
        self._conn.executemany(
            "INSERT INTO aliases VALUES (?,?)", [(k, rec.id) for k in sorted(keys)]
        )
        rows = []
        for aff in rec.affected:
            if aff.package is None or not aff.package.name or not aff.package.ecosystem:
                continue
            eco = aff.package.ecosystem
            base = eco.split(":", 1)[0]
            self.bases.add(base)
            if rec.withdrawn:
                continue
            data = aff.model_dump(exclude={"package"}, exclude_none=True, exclude_defaults=True)
            for key in ("ecosystem_specific", "database_specific"):
                if isinstance(data.get(key), dict):
                    data[key] = {k: v for k, v in data[key].items() if k not in _BULKY}
            name = normalize_name(eco, aff.package.name)
            rows.append((rec.id, eco, base, name, *split_versions(data)))
        self._conn.executemany("INSERT INTO affected VALUES (?,?,?,?,?,?)", rows)
        return True

    def add_cve_metrics(self, metrics: Sequence[CveMetric], origin: str, url: str) -> int:
        """Store NVD/CVE scores (a newer import of the same CVE, kind and scorer replaces)."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO cve_metrics VALUES (?,?,?,?,?,?)",
            [(m.cve_id, m.kind, m.vector, m.score, m.source, m.origin) for m in metrics],
        )
        self.cve_origins[origin] = url
        return len(metrics)

    def cursor(self, base: str) -> str | None:
        row = self._conn.execute("SELECT cursor FROM sources WHERE ecosystem = ?", (base,))
        found = row.fetchone()
        return None if found is None else found[0]

    def set_source(
        self,
        base: str,
        url: str | None,
        *,
        cursor: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        self.bases.add(base)
        self._conn.execute(
            "INSERT INTO sources (ecosystem, imported_at, source_url, etag, last_modified, cursor)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(ecosystem) DO UPDATE SET"
            " imported_at=excluded.imported_at, source_url=excluded.source_url,"
            " etag=excluded.etag, last_modified=excluded.last_modified,"
            " cursor=COALESCE(excluded.cursor, sources.cursor)",
            (base, now_iso(), url, etag, last_modified, cursor),
        )

    def _finish(self) -> None:
        for origin, url in self.cve_origins.items():
            (count,) = self._conn.execute(
                "SELECT COUNT(DISTINCT cve_id) FROM cve_metrics WHERE origin = ?", (origin,)
            ).fetchone()
            self._conn.execute(
                "INSERT INTO sources (ecosystem, imported_at, record_count, source_url)"
                " VALUES (?,?,?,?) ON CONFLICT(ecosystem) DO UPDATE SET"
                " imported_at=excluded.imported_at, record_count=excluded.record_count,"
                " source_url=excluded.source_url",
                (origin, now_iso(), count, url),
            )
        for base in self.bases:
            (count,) = self._conn.execute(
                "SELECT COUNT(DISTINCT record_id) FROM affected WHERE ecosystem_base = ?", (base,)
            ).fetchone()
            self._conn.execute(
                "INSERT INTO sources (ecosystem, imported_at, record_count) VALUES (?,?,?)"
                " ON CONFLICT(ecosystem) DO UPDATE SET record_count=excluded.record_count,"
                " imported_at=COALESCE(sources.imported_at, excluded.imported_at)",
                (base, now_iso(), count),
            )
