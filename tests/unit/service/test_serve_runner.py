"""The job runner: merged requests, leases shared by two runners (two processes' worth)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from patchwarden.errors import PatchwardenError
from patchwarden.service.runner import JobRunner, Trigger
from patchwarden.store import open_store
from patchwarden.store.jobs import JobStore


def test_triggers_merge_their_scopes() -> None:
    a = Trigger("hook", "x", frozenset({"r/a"}))
    assert a.merge(Trigger("hook", "y", frozenset({"r/b"}))).repositories == frozenset(
        {"r/a", "r/b"}
    )
    assert a.merge(Trigger("schedule")).repositories is None  # everything wins
    assert a.merge(Trigger("schedule")).kind == "hook+schedule"


def test_two_runners_sharing_a_store_never_overlap_and_drop_nothing(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        active, peak, seen = [0], [0], []
        lock = threading.Lock()

        def slow(trigger: Trigger) -> str:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.3)
            with lock:
                active[0] -= 1
                seen.append(trigger.detail)
            return "ok"

        runners = [
            JobRunner(
                JobStore(store.engine),
                {"check": slow},
                owner=f"p{i}",
                lease=timedelta(seconds=5),
                retry_wait=0.05,
            )
            for i in range(2)
        ]
        runners[0].submit("check", Trigger("hook", "first"))
        deadline = time.monotonic() + 10
        while not peak[0] and time.monotonic() < deadline:  # the first run is under way
            time.sleep(0.01)
        runners[1].submit("check", Trigger("hook", "second"))
        while len(seen) < 2 and time.monotonic() < deadline + 10:
            time.sleep(0.02)
        for r in runners:
            assert r.stop(10)
        # the second runner waited for the lease instead of running alongside or dropping
        assert peak[0] == 1
        assert seen == ["first", "second"]
        outcomes = [run.outcome for run in JobStore(store.engine).runs("check")]
        assert all(o == "succeeded" for o in outcomes)


def test_a_burst_of_requests_costs_one_more_run(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        calls: list[Trigger] = []
        release = threading.Event()

        def job(trigger: Trigger) -> str:
            calls.append(trigger)
            release.wait(5)
            return "ok"

        r = JobRunner(JobStore(store.engine), {"check": job}, owner="p")
        r.submit("check", Trigger("startup"))
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:  # the first run is under way
            time.sleep(0.01)
        for i in range(5):
            r.submit("check", Trigger("hook", str(i), frozenset({f"r/{i}"})))
        release.set()
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert r.stop(5)
        assert len(calls) == 2
        assert calls[1].repositories == frozenset(f"r/{i}" for i in range(5))


def test_failures_are_recorded_and_reported(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        finished: list[tuple[str, str]] = []

        def bad(trigger: Trigger) -> str:
            raise PatchwardenError("registry https://u:p4ss@reg.example/v2/ is down")

        r = JobRunner(
            JobStore(store.engine),
            {"check": bad},
            owner="p",
            on_finish=lambda j, o, s, summary: finished.append((o, summary)),
        )
        r.submit("check", Trigger("api"))
        deadline = time.monotonic() + 5
        while not finished and time.monotonic() < deadline:
            time.sleep(0.02)
        assert r.stop(5)
        ((outcome, summary),) = finished
        assert outcome == "failed" and "p4ss" not in summary and "reg.example" in summary
        st = JobStore(store.engine).state("check")
        assert st is not None and st.last_outcome == "failed" and st.lease_owner is None
