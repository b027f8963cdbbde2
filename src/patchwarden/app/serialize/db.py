"""JSON shapes of ``db import``, ``db update``, ``db status`` and ``version`` (stable;
docs/json-output.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwarden.advisories.importer import ImportReport
    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.advisories.rows import SourceStatus
    from patchwarden.advisories.update import EcosystemUpdate


def report_dict(report: ImportReport) -> dict[str, Any]:
    return {
        "added": report.added,
        "replaced": report.replaced,
        "unchanged": report.unchanged,
        "malformed": [{"where": w, "reason": r} for w, r in report.malformed],
        "ecosystems": sorted(report.ecosystems),
        "cve_scores": report.cve_scores,
    }


def import_dict(db: Path, report: ImportReport) -> dict[str, Any]:
    """``db import``."""
    return {"db": str(db), **report_dict(report)}


def update_dict(db: Path, results: Sequence[EcosystemUpdate]) -> dict[str, Any]:
    """``db update``."""
    return {
        "db": str(db),
        "ecosystems": [
            {
                "ecosystem": r.ecosystem,
                "mode": r.mode,
                **report_dict(r.report),
                "error": str(r.error) if r.error else None,
            }
            for r in results
        ],
    }


def status_dict(db: Path, records: int, sources: Sequence[SourceStatus]) -> dict[str, Any]:
    """``db status``."""
    return {
        "db": str(db),
        "records": records,
        "ecosystems": [
            {
                "ecosystem": s.ecosystem,
                "records": s.record_count,
                "last_update": s.imported_at,
                "age_seconds": age_seconds(s.imported_at),
                "source": s.source_url,
                "cursor": s.cursor,
            }
            for s in sources
        ],
    }


def age_seconds(stamp: str | None) -> float | None:
    """Seconds since an index timestamp (ISO 8601, ``Z`` allowed); None when unknown."""
    if not stamp:
        return None
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((datetime.now(UTC) - then).total_seconds())


def version_dict(tool: str, python: str, path: Path, index: AdvisoryIndex | None) -> dict[str, Any]:
    """``version``: the tool, the Python running it, and the advisory index at ``path``
    (``index`` None: there is none yet)."""
    facts: dict[str, Any] = {"path": str(path), "exists": index is not None}
    if index is not None:
        from patchwarden.advisories.freshness import last_update

        last = last_update(index)
        facts["records"] = index.record_count()
        facts["last_update"] = last.strftime("%Y-%m-%dT%H:%M:%SZ") if last else None
        facts["age_seconds"] = age_seconds(facts["last_update"])
        facts["sources"] = [
            {
                "ecosystem": s.ecosystem,
                "records": s.record_count,
                "last_update": s.imported_at,
                "source": s.source_url,
            }
            for s in index.status()
        ]
    return {"patchwarden": tool, "python": python, "index": facts}
