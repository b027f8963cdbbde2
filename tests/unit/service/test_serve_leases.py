"""Job leases on a real SQLite file: one holder at a time, expiry, take-over, one claim per
due time. The same code runs against PostgreSQL in tests/integration/test_serve_postgres.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from patchwarden.store import open_store
from patchwarden.store.jobs import JobStore

MIN = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_one_holder_at_a_time_and_expired_leases_are_taken_over(tmp_path: Path) -> None:
    clock = Clock()
    with open_store(str(tmp_path / "s.db")) as store:
        jobs = JobStore(store.engine, clock)
        assert jobs.acquire("check", "a", MIN)
        assert not jobs.acquire("check", "b", MIN)
        assert jobs.acquire("apply", "b", MIN)  # other jobs are independent
        clock.now += timedelta(seconds=50)
        assert jobs.renew("check", "a", MIN)
        clock.now += timedelta(seconds=50)  # renewed: still held
        assert not jobs.acquire("check", "b", MIN)
        clock.now += timedelta(seconds=11)  # a died: its lease expired
        assert jobs.acquire("check", "b", MIN)
        assert not jobs.renew("check", "a", MIN)  # a learns it lost the lease
        jobs.release("check", "a", "succeeded")  # a stale release changes nothing
        st = jobs.state("check")
        assert st is not None and st.lease_owner == "b" and st.last_success_at is None
        jobs.release("check", "b", "succeeded")
        st = jobs.state("check")
        assert st is not None and st.lease_owner is None and st.last_outcome == "succeeded"
        assert st.last_success_at == clock.now
        assert jobs.acquire("check", "a", MIN)


def test_racing_threads_get_the_lease_exactly_once(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        jobs = JobStore(store.engine)
        wins: list[str] = []
        gate = threading.Barrier(8)

        def race(i: int) -> None:
            gate.wait()
            if jobs.acquire("check", f"owner-{i}", MIN):
                wins.append(f"owner-{i}")

        threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1


def test_a_due_time_is_claimed_once(tmp_path: Path) -> None:
    due = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    with open_store(str(tmp_path / "s.db")) as store:
        a, b = JobStore(store.engine), JobStore(store.engine)
        assert a.claim_due("check", due)
        assert not b.claim_due("check", due)
        assert not b.claim_due("check", due - timedelta(hours=1))  # older: already covered
        assert b.claim_due("check", due + timedelta(hours=1))
        st = a.state("check")
        assert st is not None and st.last_due_at == due + timedelta(hours=1)


def test_runs_are_recorded(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        jobs = JobStore(store.engine)
        rid = jobs.start_run("check", "hook: x", "me")
        assert jobs.runs()[0].outcome == "running"
        jobs.finish_run(rid, "succeeded", "3 references", 1.5)
        (run,) = jobs.runs("check")
        assert (run.outcome, run.detail, run.duration_s) == ("succeeded", "3 references", 1.5)
