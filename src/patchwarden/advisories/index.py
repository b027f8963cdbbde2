"""The local advisory index: one SQLite file (WAL), written in single transactions, and the
queries the matcher, the freshness check and ``db status`` read it with.

Its tables, and how an existing file is proven ours and upgraded, are in
:mod:`patchwarden.advisories.index_schema`; writing records is
:class:`~patchwarden.advisories.batch.ImportBatch`; the row types are in
:mod:`patchwarden.advisories.rows`; where the file is, :mod:`patchwarden.advisories.dbpath`.

Every import runs in one ``BEGIN IMMEDIATE`` transaction: a failure rolls it back and readers
(WAL) keep seeing the previous index throughout.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from patchwarden.advisories.batch import ImportBatch
from patchwarden.advisories.errors import AdvisoryIndexError, missing_index
from patchwarden.advisories.index_schema import complete, create_tables, prove, table_names
from patchwarden.advisories.rows import AffectedRow, CveMetric, SourceStatus, StoredRecord
from patchwarden.core.gcpause import gc_paused
from patchwarden.core.jsonfmt import loads

_BATCH = 500
_WIDE_BATCH = 5000  # index-only lookups: fewer, larger IN lists (SQLite allows 32,766 values)

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


class AdvisoryIndex:
    """Open (``create=True``: create) the index at ``path``; use as a context manager.
    ``upgrade=True``: a reader that upgrades an index of an older schema in place, as an
    import does (``advisories.auto_update``)."""

    def __init__(self, path: Path, *, create: bool = False, upgrade: bool = False) -> None:
        self.path = path
        if not create and not path.is_file():
            raise missing_index(path)
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout=10000")
            tables = table_names(self._conn)
            if create and not tables:  # a new (or 0-byte) file: nothing of anyone's in it
                self._conn.execute("PRAGMA journal_mode=WAL")
                create_tables(self._conn)
            else:
                # never write into a file that isn't ours
                prove(self._conn, path, tables, create=create, upgrade=upgrade)
                if create:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                complete(self._conn, tables)
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
