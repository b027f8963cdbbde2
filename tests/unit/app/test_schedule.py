from datetime import UTC, datetime

import pytest

from patchwarden.app.update import Schedule
from patchwarden.errors import ConfigError


def test_window_is_evaluated_in_the_time_zone() -> None:
    s = Schedule("* 22-23,0-5 * * 1-5", "Europe/Berlin")
    # Monday 2026-11-23 21:30 UTC is 22:30 in Berlin (CET, UTC+1): inside
    assert s.allows(datetime(2026, 11, 23, 21, 30, tzinfo=UTC))
    # 20:30 UTC is 21:30 in Berlin: outside
    assert not s.allows(datetime(2026, 11, 23, 20, 30, tzinfo=UTC))
    # Saturday night: outside (day of week 6)
    assert not s.allows(datetime(2026, 11, 28, 22, 30, tzinfo=UTC))
    assert s.next_window(datetime(2026, 11, 23, 20, 30, tzinfo=UTC)).hour == 22


@pytest.mark.parametrize(
    ("cron", "tz", "fragment"),
    [
        ("61 * * * *", "UTC", "not a 5-field cron"),
        ("* * * *", "UTC", "not a 5-field cron"),
        ("* * * * *", "Mars/Olympus", "not a known time zone"),
    ],
)
def test_bad_schedules_are_config_errors(cron: str, tz: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        Schedule(cron, tz)
