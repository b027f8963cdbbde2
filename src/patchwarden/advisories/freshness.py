"""How old the advisory index is, and the warning (or refresh) when it is too old.

The index's age is the time since its most recent import or update of any source (``sources.
imported_at``). ``scan``, ``check --vulns`` and ``update --vulns`` warn when it is older than
``advisories.max_age`` (default one day, as Trivy does); with ``advisories.auto_update`` they
run ``db update`` first and warn only if that fails.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from patchwarden.core.durations import format_duration

if TYPE_CHECKING:
    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.config.schema import AdvisoriesConfig

DEFAULT_MAX_AGE = timedelta(days=1)


def last_update(index: AdvisoryIndex) -> datetime | None:
    stamps = [s.imported_at for s in index.status() if s.imported_at]
    if not stamps:
        return None
    return max(datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps)


def index_age(index: AdvisoryIndex, now: datetime | None = None) -> timedelta | None:
    last = last_update(index)
    if last is None:
        return None
    return max(timedelta(0), (now or datetime.now(UTC)) - last)


def is_stale(index: AdvisoryIndex, max_age: timedelta, now: datetime | None = None) -> bool:
    age = index_age(index, now)
    return age is None or age > max_age


def stale_message(
    index: AdvisoryIndex, max_age: timedelta, now: datetime | None = None
) -> str | None:
    """The warning to print, or None when the index is fresh enough."""
    age = index_age(index, now)
    if age is not None and age <= max_age:
        return None
    when = "has never been updated" if age is None else f"is {format_duration(age)} old"
    return (
        f"the advisory index {index.path} {when} (advisories.max_age is "
        f"{format_duration(max_age)}): newer vulnerabilities are missing; run `patchwarden db "
        "update`, or set advisories.auto_update: true"
    )


def refresh_if_stale(index: AdvisoryIndex, settings: AdvisoriesConfig | None) -> str | None:
    """The stale-index warning; with ``auto_update`` the index is updated first (a failure is
    a warning too: the old index is still used)."""
    max_age = settings.max_age if settings else DEFAULT_MAX_AGE
    if settings is None or not settings.auto_update or not is_stale(index, max_age):
        return stale_message(index, max_age)
    from patchwarden.advisories.fetch import MiB
    from patchwarden.advisories.update import update

    results = update(
        index,
        settings.ecosystems,
        base_url=settings.base_url,
        max_bytes=settings.max_download_mb * MiB,
    )
    failed = [r for r in results if r.error is not None]
    if failed:
        why = "; ".join(f"{r.ecosystem}: {r.error}" for r in failed)
        return f"advisories.auto_update could not update the index ({why}); " + (
            stale_message(index, max_age) or "using it as it is"
        )
    return stale_message(index, max_age)
