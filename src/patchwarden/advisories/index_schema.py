"""The advisory index file's layout, and proving, completing and upgrading a file that is
already there (the SQLite side of opening an :class:`~patchwarden.advisories.index.AdvisoryIndex`).

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
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from patchwarden.advisories.errors import AdvisoryIndexError
from patchwarden.advisories.rows import record_keys, split_versions
from patchwarden.core.jsonfmt import loads

SCHEMA_VERSION = 2

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


def table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


def create_tables(conn: sqlite3.Connection) -> None:
    """A new (or 0-byte) file: the tables of this schema version, empty."""
    conn.executescript(_DDL)
    conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
    _backfill_aliases(conn)


def prove(
    conn: sqlite3.Connection, path: Path, tables: set[str], *, create: bool, upgrade: bool
) -> None:
    """The file must show it is an advisory index: our tables, our schema version, and
    (to be read) source metadata consistent with its records. A 0-byte, foreign or
    half-built file is an error, never an empty index that finds nothing."""
    rebuild = "delete the file (or choose another --db) and run `patchwarden db update`"
    missing = {"schema_version", "records", "affected", "sources"} - tables
    if missing:
        what = "an empty file" if not tables else "a SQLite file of another program"
        raise AdvisoryIndexError(
            f"{path} is not a patchwarden advisory index ({what}; no "
            f"{', '.join(sorted(missing))} table)",
            rebuild
            if not tables
            else "point --db / PATCHWARDEN_ADVISORY_DB at the index "
            "`patchwarden db update` wrote; this file is left untouched",
        )
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if len(rows) != 1:
        raise AdvisoryIndexError(
            f"advisory index {path} is damaged ({len(rows)} schema version rows)",
            rebuild,
        )
    if rows[0][0] == 1 and create:
        _upgrade_from_1(conn)
    elif rows[0][0] == 1 and upgrade:
        _auto_upgrade(conn, path)
    elif rows[0][0] == 1:
        raise AdvisoryIndexError(
            f"advisory index {path} was written by an older patchwarden (schema "
            f"version 1; this one reads {SCHEMA_VERSION})",
            "run `patchwarden db update` (or `patchwarden db import PATH`) once: it "
            "upgrades the index in place (with advisories.auto_update: true, scan and "
            "check --vulns do that themselves)",
        )
    elif rows[0][0] != SCHEMA_VERSION:
        raise AdvisoryIndexError(
            f"advisory index {path} has schema version {rows[0][0]}, "
            f"this patchwarden uses {SCHEMA_VERSION}",
            "delete the file and run `patchwarden db update` to rebuild it",
        )
    if create:
        return  # an import may complete a half-built index
    (sources, claimed) = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(record_count), 0) FROM sources"
    ).fetchone()
    if sources == 0:
        raise AdvisoryIndexError(
            f"advisory index {path} holds no advisory source: it was never "
            "completed, so it cannot say that nothing is vulnerable",
            "run `patchwarden db update` (or `patchwarden db import PATH`)",
        )
    has_records = conn.execute("SELECT 1 FROM records LIMIT 1").fetchone()
    if claimed and has_records is None:
        raise AdvisoryIndexError(
            f"advisory index {path} is damaged: its sources claim {claimed} "
            "records and it holds none",
            rebuild,
        )


def _upgrade_from_1(conn: sqlite3.Connection) -> None:
    """Schema 1 -> 2: move each affected entry's ``versions`` list out of ``data`` into
    its own column, in one transaction (another process may have done it meanwhile)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("SELECT version FROM schema_version").fetchone()
        if version == 1:
            conn.execute("ALTER TABLE affected ADD COLUMN versions TEXT")
            rows = conn.execute(
                "SELECT rowid, data FROM affected WHERE data LIKE '%\"versions\"%'"
            ).fetchall()
            conn.executemany(
                "UPDATE affected SET data = ?, versions = ? WHERE rowid = ?",
                [(*split_versions(loads(data)), rowid) for rowid, data in rows],
            )
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _auto_upgrade(conn: sqlite3.Connection, path: Path) -> None:
    """``_upgrade_from_1`` for a reader (``advisories.auto_update``); a file it may not
    write is refused with the advice to upgrade it where it can be written."""
    try:
        _upgrade_from_1(conn)
    except sqlite3.OperationalError as exc:
        raise AdvisoryIndexError(
            f"advisory index {path} was written by an older patchwarden (schema "
            f"version 1; this one reads {SCHEMA_VERSION}) and advisories.auto_update "
            f"could not upgrade it: {exc}",
            "run `patchwarden db update` once as a user who may write the index: it "
            "upgrades the index in place",
        ) from None


def complete(conn: sqlite3.Connection, tables: set[str]) -> None:
    """An index (proven ours) written by an earlier patchwarden: add the tables it lacks
    (``cve_metrics``; ``aliases``, built once from its records)."""
    if "cve_metrics" not in tables:
        conn.executescript(_DDL)  # every statement is CREATE ... IF NOT EXISTS
    if "aliases" not in tables:
        _backfill_aliases(conn)


def _backfill_aliases(conn: sqlite3.Connection) -> None:
    """An index written before the ``aliases`` table: build it once from ``records``."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute(  # another process may have done it while we waited
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'aliases'"
        ).fetchone():
            conn.execute("COMMIT")
            return
        for statement in filter(None, (x.strip() for x in _ALIAS_DDL.split(";"))):
            conn.execute(statement)
        rows = conn.execute("SELECT id, aliases, upstream FROM records").fetchall()
        conn.executemany(
            "INSERT INTO aliases VALUES (?,?)",
            [(k, rid) for rid, al, up in rows for k in record_keys(rid, loads(al), loads(up))],
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
