"""Stored SBOMs: the packages of every image ``serve`` scanned, by manifest digest, and the
findings of their last match. The rows hold plain JSON; :mod:`patchwarden.app.refresh`
turns them into packages and back."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from patchwarden.store.connection import transaction
from patchwarden.store.orm import SbomRow


@dataclass(frozen=True, slots=True)
class StoredSbom:
    digest: str
    image: str
    os: dict[str, Any] | None
    packages: list[Any]  # one compact row per package (see app.refresh.codec)
    findings: dict[str, Any] | None  # None: never matched
    new_findings: dict[str, Any] | None
    scanned_at: datetime
    matched_at: datetime | None
    index_version: str | None = None  # of the advisory index ``findings`` were matched with


@dataclass(frozen=True, slots=True)
class SbomFindings:
    """One image's findings, without its packages (what the API and dashboard show)."""

    digest: str
    image: str
    package_count: int
    findings: dict[str, Any]
    new_findings: dict[str, Any]
    matched_at: datetime | None


_ALL = (
    SbomRow.digest,
    SbomRow.image,
    SbomRow.os,
    SbomRow.packages,
    SbomRow.findings,
    SbomRow.new_findings,
    SbomRow.scanned_at,
    SbomRow.matched_at,
    SbomRow.index_version,
)


class SbomStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _session(self, doing: str) -> AbstractContextManager[Session]:
        return transaction(self._engine, doing)

    def known(self, digests: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(digests))
        found: set[str] = set()
        with self._session("read") as s:
            for i in range(0, len(wanted), 500):
                stmt = select(SbomRow.digest).where(SbomRow.digest.in_(wanted[i : i + 500]))
                found.update(s.scalars(stmt))
        return found

    def versions(self, digests: Iterable[str]) -> dict[str, str | None]:
        """``digest -> index version`` of each stored SBOM among ``digests`` (the version its
        findings were matched against; None: unknown or never matched)."""
        wanted = list(dict.fromkeys(digests))
        found: dict[str, str | None] = {}
        with self._session("read") as s:
            for i in range(0, len(wanted), 500):
                stmt = select(SbomRow.digest, SbomRow.index_version, SbomRow.findings).where(
                    SbomRow.digest.in_(wanted[i : i + 500])
                )
                found.update((d, v if f is not None else None) for d, v, f in s.execute(stmt))
        return found

    def get_many(self, digests: Iterable[str]) -> list[StoredSbom]:
        wanted = list(dict.fromkeys(digests))
        out: list[StoredSbom] = []
        with self._session("read") as s:
            for i in range(0, len(wanted), 500):
                stmt = select(*_ALL).where(SbomRow.digest.in_(wanted[i : i + 500]))
                out.extend(StoredSbom(*r) for r in s.execute(stmt))
        return out

    def put(
        self,
        digest: str,
        image: str,
        os: dict[str, Any] | None,
        packages: list[Any],
        findings: dict[str, Any] | None = None,
        index_version: str | None = None,
    ) -> None:
        """Store (or replace) the SBOM of ``digest``; ``findings`` is its first match (with
        the advisory index at ``index_version``)."""
        now = datetime.now(UTC)
        with self._session("write to") as s:
            s.execute(delete(SbomRow).where(SbomRow.digest == digest))
            s.add(
                SbomRow(
                    digest=digest,
                    image=image,
                    os=os,
                    packages=packages,
                    package_count=len(packages),
                    findings=findings,
                    new_findings={},
                    scanned_at=now,
                    matched_at=now if findings is not None else None,
                    index_version=index_version if findings is not None else None,
                )
            )

    def iter_all(self, batch: int = 100) -> Iterator[StoredSbom]:
        """Every stored SBOM, in digest order, read ``batch`` rows at a time."""
        last = ""
        while True:
            stmt = select(*_ALL).where(SbomRow.digest > last).order_by(SbomRow.digest).limit(batch)
            with self._session("read") as s:
                rows = [StoredSbom(*r) for r in s.execute(stmt)]
            if not rows:
                return
            yield from rows
            last = rows[-1].digest

    def save_matches(
        self,
        matches: Mapping[str, tuple[dict[str, Any], dict[str, Any]]],
        index_version: str | None = None,
        only: Collection[str] | None = None,
    ) -> None:
        """Record ``digest -> (findings, new findings)`` of a re-match (only the images whose
        findings changed need be given) and the match time and index version of every SBOM
        (``only``: of those digests), in one transaction."""
        now = datetime.now(UTC)
        rows = [
            {"digest": d, "findings": f, "new_findings": n, "matched_at": now}
            for d, (f, n) in matches.items()
        ]
        stamp = update(SbomRow).values(matched_at=now, index_version=index_version)
        with self._session("write to") as s:
            if rows:  # one executemany by primary key
                s.execute(update(SbomRow), rows)
            if only is None:
                s.execute(stamp)
            else:
                wanted = list(only)
                for i in range(0, len(wanted), 500):
                    s.execute(stamp.where(SbomRow.digest.in_(wanted[i : i + 500])))

    def findings(self, digests: Iterable[str] | None = None) -> list[SbomFindings]:
        cols = (
            SbomRow.digest,
            SbomRow.image,
            SbomRow.package_count,
            SbomRow.findings,
            SbomRow.new_findings,
            SbomRow.matched_at,
        )
        stmt = select(*cols).order_by(SbomRow.image, SbomRow.digest)
        if digests is not None:
            stmt = stmt.where(SbomRow.digest.in_(list(digests)[:500]))
        with self._session("read") as s:
            return [
                SbomFindings(d, i, n, f or {}, nf or {}, m) for d, i, n, f, nf, m in s.execute(stmt)
            ]
