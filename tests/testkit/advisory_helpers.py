"""Helpers shared by the advisory tests: fixture paths, packages, synthetic records."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from patchwarden.scan.model import Package, PackageType

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osv"


def pkg(name: str, version: str, type: PackageType, **kw: Any) -> Package:
    return Package(
        name, version, type, purl=f"pkg:{type}/{name}@{version}", layer="sha256:l", path="p", **kw
    )


def rng(*events: dict[str, str], type: str = "ECOSYSTEM") -> dict[str, Any]:
    return {"type": type, "events": list(events)}


# Records that the real data does not contain: limit, withdrawn, will-not-fix, Maven, rpm.
SYNTHETIC: list[dict[str, Any]] = [
    {
        "id": "TEST-LIMIT-1",
        "modified": "2024-01-01T00:00:00Z",
        "summary": "limit case",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "limited"},
                "ranges": [rng({"introduced": "1.0.0"}, {"limit": "2.0.0"})],
            }
        ],
    },
    {
        "id": "TEST-WITHDRAWN-1",
        "modified": "2024-01-01T00:00:00Z",
        "withdrawn": "2024-02-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [rng({"introduced": "0"})],
            }
        ],
    },
    {
        "id": "TEST-WONTFIX-1",
        "aliases": ["CVE-2099-0001"],
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "zlib"},
                "ranges": [rng({"introduced": "0"})],
                "database_specific": {"status": "no-dsa", "urgency": "low"},
            }
        ],
    },
    {
        "id": "TEST-MAVEN-1",
        "modified": "2024-01-01T00:00:00Z",
        "database_specific": {"severity": "CRITICAL"},
        "affected": [
            {
                "package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
                "ranges": [rng({"introduced": "2.0-beta9"}, {"fixed": "2.15.0"})],
            }
        ],
    },
    {
        "id": "TEST-ROCKY-1",
        "modified": "2024-01-01T00:00:00Z",
        "severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}],
        "affected": [
            {
                "package": {"ecosystem": "Rocky Linux:9", "name": "openssl"},
                "ranges": [rng({"introduced": "0"}, {"fixed": "1:3.0.7-25.el9_3"})],
            }
        ],
    },
]


def write_synthetic(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rec in SYNTHETIC:
        (root / f"{rec['id']}.json").write_text(json.dumps(rec))
    return root


def downgrade_to_schema_1(db: Path) -> None:
    """Rewrite an index as schema 1 stored it: ``versions`` inside ``data``, no column.
    Checkpoint the WAL of any open connection to ``db`` first."""
    conn = sqlite3.connect(db, isolation_level=None)
    rows = conn.execute("SELECT rowid, data, versions FROM affected WHERE versions IS NOT NULL")
    merged = [(json.dumps(json.loads(d) | {"versions": json.loads(v)}), r) for r, d, v in rows]
    conn.executemany("UPDATE affected SET data = ? WHERE rowid = ?", merged)
    conn.execute("ALTER TABLE affected DROP COLUMN versions")
    conn.execute("UPDATE schema_version SET version = 1")
    conn.close()
