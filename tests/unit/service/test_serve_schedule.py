"""Scheduling is pure: cron in a time zone, deterministic jitter, missed runs, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from patchwarden.config.serve import JobSchedule, Window
from patchwarden.service.schedule import (
    in_window,
    jitter_for,
    next_due,
    next_window,
    plan,
    previous_due,
)

T = datetime(2026, 1, 15, 10, 30, 20, tzinfo=UTC)  # a Thursday, winter (Berlin = UTC+1)


def test_cron_is_read_in_its_time_zone() -> None:
    s = JobSchedule(cron="0 3 * * *", timezone="Europe/Berlin")
    assert next_due(s, T) == datetime(2026, 1, 16, 2, 0, tzinfo=UTC)
    assert previous_due(s, T) == datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert next_due(s, summer) == datetime(2026, 7, 2, 1, 0, tzinfo=UTC)  # UTC+2 in summer


def test_jitter_is_bounded_and_the_same_in_every_process() -> None:
    due = datetime(2026, 1, 15, 11, 0, tzinfo=UTC)
    j = jitter_for("check", due, timedelta(minutes=10))
    assert timedelta(0) <= j < timedelta(minutes=10)
    assert j == jitter_for("check", due, timedelta(minutes=10))
    spread = {
        jitter_for("check", due + timedelta(hours=h), timedelta(minutes=10)) for h in range(24)
    }
    assert len(spread) > 20  # spreads runs, not a constant offset
    assert jitter_for("check", due, timedelta(0)) == timedelta(0)


def test_a_job_never_handled_waits_for_its_first_due_time() -> None:
    s = JobSchedule(cron="0 * * * *")
    p = plan("check", s, None, T, startup=True)
    assert not p.run and p.claim == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    assert p.wake == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)


def test_due_run_starts_after_its_jitter() -> None:
    s = JobSchedule(cron="0 * * * *", jitter="30m")
    last = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    due = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    start = due + jitter_for("check", due, timedelta(minutes=30))
    early = plan("check", s, last, due + timedelta(seconds=1), startup=False)
    if start > due + timedelta(seconds=1):
        assert not early.run and early.wake == start and early.claim is None
    late = plan("check", s, last, due + timedelta(minutes=31), startup=False)
    assert late.run and late.claim == due


def test_nothing_to_do_when_the_newest_due_time_was_handled() -> None:
    s = JobSchedule(cron="0 * * * *")
    p = plan("check", s, datetime(2026, 1, 15, 10, 0, tzinfo=UTC), T, startup=False)
    assert not p.run and p.claim is None and p.wake == datetime(2026, 1, 15, 11, 0, tzinfo=UTC)


def test_missed_runs_at_start_up_run_once_by_default() -> None:
    s = JobSchedule(cron="0 * * * *")
    last = datetime(2026, 1, 15, 5, 0, tzinfo=UTC)  # down from 05:xx to 10:30
    p = plan("check", s, last, T, startup=True)
    assert p.run and p.missed == 5 and p.claim == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def test_missed_runs_can_be_skipped() -> None:
    s = JobSchedule(cron="0 * * * *", missed="skip")
    p = plan("check", s, datetime(2026, 1, 15, 5, 0, tzinfo=UTC), T, startup=True)
    assert not p.run and p.missed == 5 and p.claim == datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def test_maintenance_windows() -> None:
    nights = [Window(cron="* 22-23,0-5 * * 1-5", timezone="Europe/Berlin")]
    assert in_window([], T)
    assert not in_window(nights, T)  # 11:30 in Berlin
    assert in_window(nights, datetime(2026, 1, 15, 22, 10, tzinfo=UTC))  # 23:10 Berlin, Thu
    assert not in_window(nights, datetime(2026, 1, 17, 22, 10, tzinfo=UTC))  # Saturday
    assert next_window(nights, T) == datetime(2026, 1, 15, 21, 0, tzinfo=UTC)
    never = Window(cron="0 0 30 2 *")  # no February 30th: never opens, and says so
    assert next_window([never], T) is None and not in_window([never], T)
    assert next_window([never, *nights], T) == datetime(2026, 1, 15, 21, 0, tzinfo=UTC)


def test_policy_schedules_hold_changes_to_matching_images_only() -> None:
    from patchwarden.config.serve import PolicySchedule
    from patchwarden.service.schedule import policy_open

    weekend = PolicySchedule(
        match="docker.io/library/postgres*", cron="* 2-4 * * 6", timezone="Europe/Berlin"
    )
    assert not policy_open([weekend], "docker.io/library/postgres", T)  # Thursday
    assert policy_open([weekend], "docker.io/library/nginx", T)  # no schedule: any time
    saturday_3am_berlin = datetime(2026, 1, 17, 2, 15, tzinfo=UTC)
    assert policy_open([weekend], "docker.io/library/postgres", saturday_3am_berlin)
    always = PolicySchedule(match="docker.io/library/*", cron="* * * * *")
    assert policy_open([weekend, always], "docker.io/library/postgres", T)  # one open is enough
