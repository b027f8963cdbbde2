"""The local advisory index: one SQLite file (WAL), written in single transactions.

Tables (``SCHEMA_VERSION`` in ``schema_version``):

* ``records(id PK, modified, published, withdrawn, aliases, upstream, related, summary,
  details, severity, database_specific, url)`` — one row per OSV record; list/dict columns
  are JSON. ``modified`` is normalised (``normalize_timestamp``) so string order is time order.
* ``affected(record_id, ecosystem, ecosystem_base, name, data, versions)`` indexed on
  ``(ecosystem, name)`` — one row per ``affected[]`` entry with a package; ``name`` is
  normalised (PyPI: PEP 503; others exact); ``data`` is the entry's JSON without ``package``,
  without ``versions`` and without bulky lists (``ecosystem_specific.binaries``/``imports``/
  ``affected_functions``); ``versions`` is the entry's ``versions`` list as JSON (NULL when
  empty), kept apart because the matcher needs it only when the ranges do not decide and it
  is most of the bytes (PyPI lists run to hundreds of versions). Withdrawn records keep their
  ``records`` row but get no ``affected`` rows.
* ``sources(ecosystem PK, imported_at, record_count, source_url, etag, last_modified,
  cursor)`` — per ecosystem base (``Debian``, ``PyPI``): last import time, record count, where
  it came from and the incremental-update state (``cursor`` = newest ``modified`` seen in
  ``modified_id.csv``).

Schema 1 (``versions`` inside ``data``) is upgraded in place when an import opens it
(``create=True``: ``db update``/``db import``) or a reader that may (``upgrade=True``: the
commands that read it with ``advisories.auto_update`` on), in one ``BEGIN IMMEDIATE``
transaction; other read-only opens refuse it with that advice.

Every import runs in one ``BEGIN IMMEDIATE`` transaction: a failure rolls it back and readers
(WAL) keep seeing the previous index throughout.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import platformdirs

from patchwarden.advisories.errors import AdvisoryIndexError, missing_index
from patchwarden.advisories.osv import OSVRecord, normalize_timestamp
from patchwarden.core.gcpause import gc_paused
from patchwarden.core.jsonfmt import loads

SCHEMA_VERSION = 2
ENV_DB = "PATCHWARDEN_ADVISORY_DB"
_BULKY = ("binaries", "imports", "affected_functions")
_BATCH = 500
_WIDE_BATCH = 5000  # index-only lookups: fewer, larger IN lists (SQLite allows 32,766 values)

_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY, modified TEXT NOT NULL, published TEXT, withdrawn TEXT,
  aliases TEXT NOT NULL, upstream TEXT NOT NULL, related TEXT NOT NULL, summary TEXT NOT NULL,
  details TEXT NOT NULL, severity TEXT NOT NULL, database_specific TEXT, url TEXT);
CREATE TABLE IF NOT EXISTS affected (
  record_id TEXT NOT NULL, ecosystem TEXT NOT NULL, ecosystem_base TEXT NOT NULL,
  name TEXT NOT NULL, data TEXT NOT NULL, versions TEXT);
CREATE INDEX IF NOT EXISTS affected_lookup ON affected (ecosystem, name);
CREATE INDEX IF NOT EXISTS affected_record ON affected (record_id);
CREATE TABLE IF NOT EXISTS sources (
  ecosystem TEXT PRIMARY KEY, imported_at TEXT, record_count INTEGER NOT NULL DEFAULT 0,
  source_url TEXT, etag TEXT, last_modified TEXT, cursor TEXT);
CREATE TABLE IF NOT EXISTS cve_metrics (
  cve_id TEXT NOT NULL, kind TEXT NOT NULL, vector TEXT NOT NULL, score REAL NOT NULL,
  source TEXT NOT NULL, origin TEXT NOT NULL, PRIMARY KEY (cve_id, kind, source));
"""
# Added after schema 1 shipped; created (and filled from ``records``) when missing.
_ALIAS_DDL = """
CREATE TABLE aliases (alias TEXT NOT NULL, record_id TEXT NOT NULL);
CREATE INDEX aliases_alias ON aliases (alias, record_id);
CREATE INDEX aliases_record ON aliases (record_id);
"""
_PREFIXED_CVE = re.compile(r"^[A-Z]+-(CVE-\d{4}-\d+)$")


def record_keys(rid: str, aliases: Sequence[str], upstream: Sequence[str]) -> set[str]:
    """Every id a record answers to: its id, aliases, upstream ids, and ``CVE-X`` for a
    distribution's ``UBUNTU-CVE-X``/``ALPINE-CVE-X``/``DEBIAN-CVE-X``."""
    keys = {rid, *aliases, *upstream}
    return keys | {m.group(1) for k in list(keys) if (m := _PREFIXED_CVE.match(k))}


def _split_versions(data: dict[str, Any]) -> tuple[str, str | None]:
    """(``data`` without ``versions``, ``versions``) as stored: compact JSON, None if empty."""
    versions = data.pop("versions", None)
    compact = (",", ":")
    return json.dumps(data, separators=compact), (
        json.dumps(versions, separators=compact) if versions else None
    )


@dataclass(frozen=True, slots=True)
class CveMetric:
    """A CVSS vector for a CVE from NVD or a CVE record (``db import`` of NVD/CVE JSON)."""

    cve_id: str
    kind: str  # CVSS_V3 | CVSS_V4 | CVSS_V2
    vector: str
    score: float
    source: str  # who scored it: nvd@nist.gov, the CNA, an ADP
    origin: str  # "NVD" | "CVE"


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(fn: _F) -> _F:
    """A damaged page found while reading is a clear error (exit 3), not an internal one."""

    @functools.wraps(fn)
    def wrapper(self: AdvisoryIndex, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except (sqlite3.DatabaseError, ValueError, RecursionError) as exc:
            raise AdvisoryIndexError(
                f"advisory index {self.path} is damaged: {type(exc).__name__}: {exc}"[:300],
                "delete the file and run `patchwarden db update` to rebuild it",
            ) from None

    return cast(_F, wrapper)


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("patchwarden")) / "advisories.db"


def resolve_db_path(cli: Path | None = None, configured: str | None = None) -> Path:
    """``--db``, then ``$PATCHWARDEN_ADVISORY_DB``, then ``advisories.db_path``, then default."""
    if cli is not None:
        return cli
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    if configured:
        return Path(configured).expanduser()
    return default_db_path()


def normalize_name(ecosystem: str, name: str) -> str:
    """PyPI names per PEP 503; every other ecosystem is exact (npm ``Axios`` != ``axios``)."""
    if ecosystem.split(":", 1)[0] == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class AffectedRow:
    """One ``affected`` entry: ``data`` decoded (without ``package`` and ``versions``), its
    ``versions`` list kept as stored and decoded on the first :meth:`versions` call."""

    record_id: str
    ecosystem: str
    name: str
    data: dict[str, Any]
    versions_json: str | None = None
    _versions: list[str] | None = field(default=None, repr=False, compare=False)

    def versions(self) -> list[str]:
        """The entry's ``versions`` list (empty when it has none)."""
        if self._versions is None:
            self._versions = loads(self.versions_json) if self.versions_json else []
        return self._versions


@dataclass(frozen=True, slots=True)
class StoredRecord:
    id: str
    modified: str
    withdrawn: str | None
    aliases: tuple[str, ...]
    upstream: tuple[str, ...]
    summary: str
    details: str
    severity: tuple[dict[str, str], ...]
    database_specific: dict[str, Any]
    url: str | None


@dataclass(frozen=True, slots=True)
class SourceStatus:
    ecosystem: str
    record_count: int
    imported_at: str | None
    source_url: str | None
    cursor: str | None
    etag: str | None = None
    last_modified: str | None = None


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
            rows.append((rec.id, eco, base, name, *_split_versions(data)))
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


class AdvisoryIndex:
    """Open (``create=True``: create) the index at ``path``; use as a context manager.
    ``upgrade=True``: a reader that upgrades an index of an older schema in place, as an
    import does (``advisories.auto_update``)."""

    def __init__(self, path: Path, *, create: bool = False, upgrade: bool = False) -> None:
        self.path = path
        self._upgrade = upgrade
        if not create and not path.is_file():
            raise missing_index(path)
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=10000")
            tables = self._tables()
            if create and not tables:  # a new (or 0-byte) file: nothing of anyone's in it
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.executescript(_DDL)
                self._conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                self._backfill_aliases()
            else:
                self._prove(tables, create=create)  # never write into a file that isn't ours
                if create:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                self._complete(tables)
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise AdvisoryIndexError(
                f"cannot open advisory index {path}: {exc}",
                "delete the file and run `patchwarden db update` to rebuild it",
            ) from None
        except AdvisoryIndexError:
            self._close_quietly()
            raise

    def _close_quietly(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    def _tables(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    def _prove(self, tables: set[str], *, create: bool) -> None:
        """The file must show it is an advisory index: our tables, our schema version, and
        (to be read) source metadata consistent with its records. A 0-byte, foreign or
        half-built file is an error, never an empty index that finds nothing."""
        rebuild = "delete the file (or choose another --db) and run `patchwarden db update`"
        missing = {"schema_version", "records", "affected", "sources"} - tables
        if missing:
            what = "an empty file" if not tables else "a SQLite file of another program"
            raise AdvisoryIndexError(
                f"{self.path} is not a patchwarden advisory index ({what}; no "
                f"{', '.join(sorted(missing))} table)",
                rebuild
                if not tables
                else "point --db / PATCHWARDEN_ADVISORY_DB at the index "
                "`patchwarden db update` wrote; this file is left untouched",
            )
        rows = self._conn.execute("SELECT version FROM schema_version").fetchall()
        if len(rows) != 1:
            raise AdvisoryIndexError(
                f"advisory index {self.path} is damaged ({len(rows)} schema version rows)",
                rebuild,
            )
        if rows[0][0] == 1 and create:
            self._upgrade_from_1()
        elif rows[0][0] == 1 and self._upgrade:
            self._auto_upgrade()
        elif rows[0][0] == 1:
            raise AdvisoryIndexError(
                f"advisory index {self.path} was written by an older patchwarden (schema "
                f"version 1; this one reads {SCHEMA_VERSION})",
                "run `patchwarden db update` (or `patchwarden db import PATH`) once: it "
                "upgrades the index in place (with advisories.auto_update: true, scan and "
                "check --vulns do that themselves)",
            )
        elif rows[0][0] != SCHEMA_VERSION:
            raise AdvisoryIndexError(
                f"advisory index {self.path} has schema version {rows[0][0]}, "
                f"this patchwarden uses {SCHEMA_VERSION}",
                "delete the file and run `patchwarden db update` to rebuild it",
            )
        if create:
            return  # an import may complete a half-built index
        (sources, claimed) = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(record_count), 0) FROM sources"
        ).fetchone()
        if sources == 0:
            raise AdvisoryIndexError(
                f"advisory index {self.path} holds no advisory source: it was never "
                "completed, so it cannot say that nothing is vulnerable",
                "run `patchwarden db update` (or `patchwarden db import PATH`)",
            )
        has_records = self._conn.execute("SELECT 1 FROM records LIMIT 1").fetchone()
        if claimed and has_records is None:
            raise AdvisoryIndexError(
                f"advisory index {self.path} is damaged: its sources claim {claimed} "
                "records and it holds none",
                rebuild,
            )

    def _upgrade_from_1(self) -> None:
        """Schema 1 -> 2: move each affected entry's ``versions`` list out of ``data`` into
        its own column, in one transaction (another process may have done it meanwhile)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = self._conn.execute("SELECT version FROM schema_version").fetchone()
            if version == 1:
                self._conn.execute("ALTER TABLE affected ADD COLUMN versions TEXT")
                rows = self._conn.execute(
                    "SELECT rowid, data FROM affected WHERE data LIKE '%\"versions\"%'"
                ).fetchall()
                self._conn.executemany(
                    "UPDATE affected SET data = ?, versions = ? WHERE rowid = ?",
                    [(*_split_versions(loads(data)), rowid) for rowid, data in rows],
                )
                self._conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _auto_upgrade(self) -> None:
        """``_upgrade_from_1`` for a reader (``advisories.auto_update``); a file it may not
        write is refused with the advice to upgrade it where it can be written."""
        try:
            self._upgrade_from_1()
        except sqlite3.OperationalError as exc:
            raise AdvisoryIndexError(
                f"advisory index {self.path} was written by an older patchwarden (schema "
                f"version 1; this one reads {SCHEMA_VERSION}) and advisories.auto_update "
                f"could not upgrade it: {exc}",
                "run `patchwarden db update` once as a user who may write the index: it "
                "upgrades the index in place",
            ) from None

    def _complete(self, tables: set[str]) -> None:
        """An index (proven ours) written by an earlier patchwarden: add the tables it lacks
        (``cve_metrics``; ``aliases``, built once from its records)."""
        if "cve_metrics" not in tables:
            self._conn.executescript(_DDL)  # every statement is CREATE ... IF NOT EXISTS
        if "aliases" not in tables:
            self._backfill_aliases()

    def _backfill_aliases(self) -> None:
        """An index written before the ``aliases`` table: build it once from ``records``."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            if self._conn.execute(  # another process may have done it while we waited
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'aliases'"
            ).fetchone():
                self._conn.execute("COMMIT")
                return
            for statement in filter(None, (x.strip() for x in _ALIAS_DDL.split(";"))):
                self._conn.execute(statement)
            rows = self._conn.execute("SELECT id, aliases, upstream FROM records").fetchall()
            self._conn.executemany(
                "INSERT INTO aliases VALUES (?,?)",
                [(k, rid) for rid, al, up in rows for k in record_keys(rid, loads(al), loads(up))],
            )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> AdvisoryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def writer(self) -> Iterator[ImportBatch]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        self._conn.execute("BEGIN IMMEDIATE")
        batch = ImportBatch(self._conn)
        try:
            yield batch
            batch._finish()
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @_guarded
    def ecosystems(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT DISTINCT ecosystem FROM affected")}

    @_guarded
    def has_ecosystem(self, ecosystem: str) -> bool:
        sql = "SELECT 1 FROM affected WHERE ecosystem = ? LIMIT 1"
        return self._conn.execute(sql, (ecosystem,)).fetchone() is not None

    @_guarded
    def ecosystems_with_prefix(self, prefix: str) -> list[str]:
        """Distinct ecosystems starting with ``prefix`` (index seeks, no scan)."""
        found: list[str] = []
        last = prefix
        sql = (
            "SELECT ecosystem FROM affected WHERE ecosystem > ? AND ecosystem < ? "
            "ORDER BY ecosystem LIMIT 1"
        )
        while row := self._conn.execute(sql, (last, prefix + "\U0010ffff")).fetchone():
            last = row[0]
            found.append(last)
        if self.has_ecosystem(prefix):
            found.insert(0, prefix)
        return found

    @_guarded
    def lookup(self, ecosystem: str, names: Sequence[str]) -> list[AffectedRow]:
        """Affected entries for ``names`` (already normalised) in exactly ``ecosystem``."""
        with gc_paused():  # thousands of small decoded documents, no cycles among them
            return self._lookup(ecosystem, names)

    def _lookup(self, ecosystem: str, names: Sequence[str]) -> list[AffectedRow]:
        out: list[AffectedRow] = []
        unique = sorted(set(names))
        for i in range(0, len(unique), _BATCH):
            chunk = unique[i : i + _BATCH]
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT record_id, ecosystem, name, data, versions FROM affected "  # noqa: S608 - only ? placeholders are joined in; values are bound
                f"WHERE ecosystem = ? AND name IN ({marks})"
            )
            for rid, eco, name, data, versions in self._conn.execute(sql, (ecosystem, *chunk)):
                out.append(AffectedRow(rid, eco, name, loads(data), versions))
        return out

    def _rows_in(self, sql: str, values: Sequence[str], batch: int = _BATCH) -> Iterator[Any]:
        """Rows of ``sql`` (with ``{marks}`` for the IN list) for ``values``, in batches."""
        unique = sorted(set(values))
        for i in range(0, len(unique), batch):
            chunk = unique[i : i + batch]
            yield from self._conn.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)

    @_guarded
    def records(self, ids: Sequence[str]) -> dict[str, StoredRecord]:
        sql = (
            "SELECT id, modified, withdrawn, aliases, upstream, summary, details, severity,"
            " database_specific, url FROM records WHERE id IN ({marks})"
        )
        return {
            r[0]: StoredRecord(
                id=r[0],
                modified=r[1],
                withdrawn=r[2],
                aliases=tuple(loads(r[3])),
                upstream=tuple(loads(r[4])),
                summary=r[5],
                details=r[6],
                severity=tuple(loads(r[7])),
                database_specific=loads(r[8]) if r[8] else {},
                url=r[9],
            )
            for r in self._rows_in(sql, ids)
        }

    def records_by_alias(self, keys: Sequence[str], *, shared: bool = False) -> dict[str, set[str]]:
        """key -> ids of the records that answer to it (their id, an alias or upstream id);
        ``shared``: only keys that two or more records answer to (one index-only query)."""
        having = " HAVING count(*) > 1" if shared else ""  # a constant, not input
        sql = (
            "SELECT alias, group_concat(record_id, char(31)) FROM aliases WHERE alias IN"  # noqa: S608 - only ? marks and a constant are formatted in
            f" ({{marks}}) GROUP BY alias{having}"
        )
        rows = self._rows_in(sql, keys, batch=_WIDE_BATCH)
        return {alias: set(ids.split("\x1f")) for alias, ids in rows}

    def has_cve_metrics(self) -> bool:
        """Whether any NVD/CVE scores were imported (else there is nothing to look up)."""
        return self._conn.execute("SELECT 1 FROM cve_metrics LIMIT 1").fetchone() is not None

    def cve_metrics(self, cve_ids: Sequence[str]) -> dict[str, list[CveMetric]]:
        out: dict[str, list[CveMetric]] = {}
        sql = (
            "SELECT cve_id, kind, vector, score, source, origin FROM cve_metrics"
            " WHERE cve_id IN ({marks})"
        )
        for row in self._rows_in(sql, cve_ids, batch=_WIDE_BATCH):
            out.setdefault(row[0], []).append(CveMetric(*row))
        return out

    def source(self, base: str) -> SourceStatus | None:
        return next((s for s in self.status() if s.ecosystem == base), None)

    @_guarded
    def status(self) -> list[SourceStatus]:
        rows = self._conn.execute(
            "SELECT ecosystem, record_count, imported_at, source_url, cursor, etag, last_modified"
            " FROM sources ORDER BY ecosystem"
        )
        return [SourceStatus(*r) for r in rows]

    @_guarded
    def record_count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])
