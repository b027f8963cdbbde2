"""When scheduled jobs are due: cron in a time zone, jitter, missed runs, maintenance windows.

Pure functions of (configuration, stored state, now): the scheduler thread and the tests call
the same code.

Missed runs. ``serve`` remembers per job the newest due time it handled (``jobs.last_due_at``
in the state store). At start-up, when the cron had due times since then (``serve`` was down or
a run overran), policy ``run-once`` (default) runs the job once now for all of them;
``skip`` records them as handled and waits for the next due time. A job that was never handled
before is not "missed": it waits for its first due time (the start-up check covers the paths).

Claiming a due time is atomic in the store (:meth:`JobStore.claim_due`), so of two ``serve``
processes sharing a database exactly one runs each scheduled occurrence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from patchwarden.config.serve import JobSchedule, PolicySchedule, Window


def _local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def jitter_for(job: str, due: datetime, jitter: timedelta) -> timedelta:
    """A delay in [0, jitter) derived from the job and due time: every process sharing a
    database computes the same one (so jitter spreads load, not duplicates)."""
    if jitter <= timedelta(0):
        return timedelta(0)
    h = hashlib.sha256(f"{job}@{due.isoformat()}".encode()).digest()
    frac = int.from_bytes(h[:8], "big") / 2**64
    return timedelta(seconds=jitter.total_seconds() * frac)


def next_due(sched: JobSchedule, after: datetime) -> datetime:
    """The first due time strictly after ``after`` (an aware datetime), in ``after``'s zone."""
    from croniter import croniter

    nxt: datetime = croniter(sched.cron, _local(after, sched.timezone)).get_next(datetime)
    return nxt.astimezone(after.tzinfo)


def previous_due(sched: JobSchedule, now: datetime) -> datetime:
    """The newest due time at or before ``now``."""
    from croniter import croniter

    local = _local(now, sched.timezone)
    if croniter.match(sched.cron, local.replace(second=0, microsecond=0)):
        return local.replace(second=0, microsecond=0).astimezone(now.tzinfo)
    prev: datetime = croniter(sched.cron, local).get_prev(datetime)
    return prev.astimezone(now.tzinfo)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do about a job now.

    ``claim``: a due time to record as handled (None: nothing to record); ``run``: run the job
    for it now; otherwise sleep until ``wake`` and plan again. ``missed`` counts the due times
    a start-up found unhandled.
    """

    claim: datetime | None
    run: bool
    wake: datetime
    missed: int = 0


def plan(
    job: str, sched: JobSchedule, last_due: datetime | None, now: datetime, *, startup: bool
) -> Plan:
    """The next action for ``job``, given the newest due time already handled."""
    current = previous_due(sched, now)
    nxt = next_due(sched, now)
    wake = nxt + jitter_for(job, nxt, sched.jitter)
    if last_due is None:  # never scheduled before: nothing was missed, start counting now
        return Plan(current, False, wake)
    if current <= last_due:
        return Plan(None, False, wake)
    if startup:
        missed = _count_between(sched, last_due, current)
        return Plan(current, sched.missed == "run-once", now, missed)
    start = current + jitter_for(job, current, sched.jitter)
    if now < start:
        return Plan(None, False, start)
    return Plan(current, True, now)


def _count_between(sched: JobSchedule, after: datetime, upto: datetime, cap: int = 1000) -> int:
    n, t = 0, after
    while n < cap:
        t = next_due(sched, t)
        if t > upto:
            break
        n += 1
    return n


def in_window(windows: list[Window], now: datetime) -> bool:
    """True when there are no windows, or ``now`` matches one (every cron field)."""
    if not windows:
        return True
    from croniter import croniter

    return any(
        croniter.match(w.cron, _local(now, w.timezone).replace(second=0, microsecond=0))
        for w in windows
    )


def next_window(windows: list[Window], now: datetime) -> datetime | None:
    """When the next window opens; None without windows, or when none ever opens again (a
    cron such as ``0 0 30 2 *`` that no date matches)."""
    from croniter import CroniterBadDateError, croniter

    starts: list[datetime] = []
    for w in windows:
        try:
            nxt: datetime = croniter(w.cron, _local(now, w.timezone)).get_next(datetime)
        except CroniterBadDateError:
            continue
        starts.append(nxt.astimezone(now.tzinfo))
    return min(starts, default=None)


def policy_open(schedules: list[PolicySchedule], image: str, now: datetime) -> bool:
    """Whether changes to ``image`` (a normalized name) may happen now: True when no
    schedule matches it, else when one of those that match is open."""
    from fnmatch import fnmatchcase

    mine: list[Window] = [s for s in schedules if fnmatchcase(image, s.match)]
    return not mine or in_window(mine, now)
