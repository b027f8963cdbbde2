"""When ``update`` may open changes: a cron expression evaluated in a time zone.

The moment ``update`` runs must match every field of the expression (minute, hour, day of
month, month, day of week) in ``timezone``; so ``"* 22-23,0-5 * * 1-5"`` is "weeknights,
22:00 to 05:59". Outside the window ``update`` still plans and reports what it would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from patchwarden.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Schedule:
    cron: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        from croniter import croniter

        if not croniter.is_valid(self.cron) or len(self.cron.split()) != 5:
            raise ConfigError(
                f"schedule.cron {self.cron!r} is not a 5-field cron expression",
                "e.g. '* 22-23,0-5 * * 1-5' (minute hour day-of-month month day-of-week)",
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"schedule.timezone {self.timezone!r} is not a known time zone",
                "use an IANA name such as Europe/Berlin or America/New_York",
            ) from None

    def allows(self, moment: datetime | None = None) -> bool:
        from croniter import croniter

        now = (moment or datetime.now(UTC)).astimezone(ZoneInfo(self.timezone))
        return bool(croniter.match(self.cron, now))

    def describe(self) -> str:
        return f"{self.cron!r} in {self.timezone}"

    def next_window(self, moment: datetime | None = None) -> datetime:
        from croniter import croniter

        now = (moment or datetime.now(UTC)).astimezone(ZoneInfo(self.timezone))
        nxt: datetime = croniter(self.cron, now).get_next(datetime)
        return nxt

    def closed_note(self, moment: datetime | None = None) -> str | None:
        """None inside the window; outside it, what ``update`` does instead and when the next
        window opens."""
        if self.allows(moment):
            return None
        return (
            f"outside the update schedule {self.describe()}: showing what would be "
            f"done; the next window opens {self.next_window(moment):%Y-%m-%d %H:%M %Z}"
        )
