"""Task records and one delivery, on a real SQLite state store: what makes an at-least-once
broker run each job once, retry failures with backoff and dead-letter the hopeless."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden.config.queue import QueueConfig
from patchwarden.errors import ConfigError, RegistryError
from patchwarden.queue.executor import merge_triggers
from patchwarden.queue.model import Verdict
from patchwarden.service.delivery import Deliverer, lease_name
from patchwarden.service.runner import Trigger
from patchwarden.store import open_store
from patchwarden.store.db import Store
from patchwarden.store.effects import Claim, EffectLedger
from patchwarden.store.jobs import JobStore
from patchwarden.store.tasks import Begin, TaskState, TaskStore


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(str(tmp_path / "state.db")) as s:
        yield s


def _trig(repos: list[str] | None = None, kind: str = "api") -> dict[str, object]:
    return {"kind": kind, "detail": kind, "repositories": repos}


def test_queued_requests_of_one_scope_merge_and_other_scopes_do_not(store: Store) -> None:
    tasks = TaskStore(store.engine)
    a, new_a = tasks.enqueue("check", _trig(["r1"], "hook"), merge_triggers)
    b, new_b = tasks.enqueue("check", _trig(["r1"], "api"), merge_triggers)
    c, new_c = tasks.enqueue("check", _trig(["r2"]), merge_triggers)
    d, new_d = tasks.enqueue("check", _trig(None), merge_triggers)
    assert (new_a, new_b, new_c, new_d) == (True, False, True, True)
    assert a == b and len({a, c, d}) == 3
    merged = tasks.get(a)
    assert merged is not None and merged.trigger["kind"] == "hook+api"
    # once running, a task absorbs nothing more
    assert tasks.begin(a, "w1", timedelta(minutes=1)).outcome == Begin.RUN
    e, new_e = tasks.enqueue("check", _trig(["r1"]), merge_triggers)
    assert new_e and e != a


def test_begin_runs_once_waits_for_a_live_holder_and_takes_over_a_dead_one(store: Store) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    tasks = TaskStore(store.engine, clock=lambda: now[0])
    tid, _ = tasks.enqueue("check", _trig(), merge_triggers)
    first = tasks.begin(tid, "w1", timedelta(seconds=10))
    assert first.outcome == Begin.RUN and first.previous_run is None
    tasks.attach_run(tid, "w1", 41)
    busy = tasks.begin(tid, "w2", timedelta(seconds=10))  # a second delivery while w1 lives
    assert busy.outcome == Begin.BUSY and 9 <= busy.wait <= 10
    now[0] += timedelta(seconds=11)  # w1 died: its lease ran out
    taken = tasks.begin(tid, "w2", timedelta(seconds=10))
    assert taken.outcome == Begin.RUN and taken.previous_run == 41
    assert taken.task is not None and taken.task.attempts == 2
    assert not tasks.finish(tid, "w1", TaskState.SUCCEEDED, "late")  # the loser cannot finish
    assert tasks.finish(tid, "w2", TaskState.SUCCEEDED, "ok")
    assert tasks.begin(tid, "w3", timedelta(seconds=10)).outcome == Begin.DONE
    assert tasks.begin("no-such-task", "w3", timedelta(seconds=10)).outcome == Begin.DONE


def _deliverer(store: Store, handler: object, **cfg: object) -> Deliverer:
    config = QueueConfig.model_validate({"retry_backoff": "2s", "max_retries": 2, **cfg})
    return Deliverer(
        TaskStore(store.engine),
        JobStore(store.engine),
        {"check": handler},  # type: ignore[dict-item]
        config,
        owner="host:1:abc",
    )


def test_a_delivery_runs_the_handler_and_a_duplicate_is_acknowledged(store: Store) -> None:
    seen: list[Trigger] = []

    def handler(t: Trigger) -> str:
        seen.append(t)
        return "3 references checked"

    d = _deliverer(store, handler)
    tid, _ = d.tasks.enqueue("check", _trig(["r1"], "hook"), merge_triggers)
    out = d(tid)
    assert (out.verdict, out.summary) == (Verdict.DONE, "3 references checked")
    assert seen == [Trigger("hook", "hook", frozenset({"r1"}))]
    again = d(tid)
    assert again.verdict == Verdict.DONE and len(seen) == 1
    runs = d.jobs.runs()
    assert [(r.job, r.outcome) for r in runs] == [("check", "succeeded")]
    task = d.tasks.get(tid)
    assert task is not None and task.state == TaskState.SUCCEEDED and task.run_id == runs[0].id


def test_failures_back_off_then_land_in_the_dead_letter_list(store: Store) -> None:
    def handler(t: Trigger) -> str:
        raise RegistryError("registry.example answered 503", "try later", transient=True)

    d = _deliverer(store, handler)
    tid, _ = d.tasks.enqueue("check", _trig(), merge_triggers)
    waits = []
    for _ in range(3):
        out = d(tid)
        if out.verdict == Verdict.RETRY:
            waits.append(out.countdown)
    assert waits == [2.0, 4.0]  # max_retries 2: doubling from retry_backoff
    task = d.tasks.get(tid)
    assert task is not None and task.state == TaskState.DEAD and task.attempts == 3
    assert "503" in task.detail
    assert [t.id for t in d.tasks.list(TaskState.DEAD)] == [tid]
    # taken back from the dead-letter list, it runs again
    assert d.tasks.requeue(tid) is not None
    assert d.tasks.get(tid).state == TaskState.QUEUED  # type: ignore[union-attr]


def test_a_permanent_error_is_dead_at_once_and_a_crash_is_retried(store: Store) -> None:
    def bad_config(t: Trigger) -> str:
        raise ConfigError("serve.notify[0].url_env names $X, which is unset", "export X")

    d = _deliverer(store, bad_config)
    tid, _ = d.tasks.enqueue("check", _trig(), merge_triggers)
    assert d(tid).verdict == Verdict.DONE
    assert d.tasks.get(tid).state == TaskState.DEAD  # type: ignore[union-attr]

    def crash(t: Trigger) -> str:
        raise ZeroDivisionError("bug")

    d2 = _deliverer(store, crash)
    tid2, _ = d2.tasks.enqueue("check", _trig(["x"]), merge_triggers)
    out = d2(tid2)
    assert out.verdict == Verdict.RETRY and "ZeroDivisionError" in out.summary


def test_a_task_waits_while_its_job_and_scope_run_elsewhere(store: Store) -> None:
    d = _deliverer(store, lambda t: "ok")
    tid, _ = d.tasks.enqueue("check", _trig(["r1"]), merge_triggers)
    task = d.tasks.get(tid)
    assert task is not None
    assert d.jobs.acquire(lease_name(task), "someone-else", timedelta(seconds=30))
    out = d(tid)
    assert out.verdict == Verdict.RETRY and 0.5 <= out.countdown <= 30
    assert d.tasks.get(tid).state == TaskState.QUEUED  # type: ignore[union-attr]
    assert lease_name(task) != "check"  # other scopes are not held back


def test_the_effect_ledger_runs_an_effect_once_and_asks_reality_when_in_doubt(
    store: Store,
) -> None:
    ledger = EffectLedger(store.engine)
    done: list[str] = []

    def push() -> str:
        done.append("push")
        return "pushed app:1.1"

    assert ledger.once("push:app:1.1@sha256:aa", "push", "w1", push, lambda: False) == (
        True,
        "pushed app:1.1",
    )
    assert ledger.once("push:app:1.1@sha256:aa", "push", "w2", push, lambda: False)[0] is False
    assert done == ["push"]
    # a worker died between claim and done: the registry already shows the tag -> not again
    assert ledger.claim("push:app:1.2@sha256:bb", "push", "w1") == Claim.NEW
    ran, _ = ledger.once("push:app:1.2@sha256:bb", "push", "w2", push, lambda: True)
    assert not ran and done == ["push"]
    # ... it does not: the effect is carried out now
    assert ledger.claim("push:app:1.3@sha256:cc", "push", "w1") == Claim.NEW
    ran, _ = ledger.once("push:app:1.3@sha256:cc", "push", "w2", push, lambda: False)
    assert ran and done == ["push", "push"]


def test_a_task_whose_attempts_never_came_back_ends_dead(store: Store) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    ran: list[Trigger] = []
    d = _deliverer(store, ran.append)
    d.tasks = TaskStore(store.engine, clock=lambda: now[0])
    tid, _ = d.tasks.enqueue("check", _trig(["r"]), merge_triggers)
    for n in range(3):  # max_retries 2: three workers lost mid-job (or killed by time limit)
        assert d.tasks.begin(tid, f"lost{n}", timedelta(seconds=1)).outcome == Begin.RUN
        now[0] += timedelta(seconds=5)
    out = d(tid)
    assert out.verdict == Verdict.DONE and "gave up after 3 attempts" in out.summary
    assert ran == [] and d.tasks.get(tid).state == TaskState.DEAD  # type: ignore[union-attr]
