"""The dead-letter list in the API and on the dashboard (a real Service on SQLite)."""

from __future__ import annotations

from datetime import timedelta

from patchwarden.queue.executor import merge_triggers
from patchwarden.store.tasks import TaskState
from testkit.serve_helpers import ADMIN, Served


def _dead_task(served: Served) -> str:
    tasks = served.svc.tasks
    tid, _ = tasks.enqueue(
        "check", {"kind": "hook", "detail": "", "repositories": ["r"]}, merge_triggers
    )
    tasks.begin(tid, "w1", timedelta(minutes=1))
    tasks.finish(tid, "w1", TaskState.DEAD, "registry.example answered 503 six times")
    return tid


def test_dead_tasks_are_listed_in_the_api_and_on_the_dashboard(served: Served) -> None:
    c, admin = served.client, served.admin()
    tid = _dead_task(served)
    body = c.get("/api/v1/tasks?state=dead", headers=admin).json()
    assert [t["id"] for t in body["tasks"]] == [tid]
    assert body["counts"] == {"dead": 1}
    assert body["tasks"][0]["detail"] == "registry.example answered 503 six times"
    assert c.get("/api/v1/tasks?state=queued", headers=admin).json()["tasks"] == []
    bad = c.get("/api/v1/tasks?state=lost", headers=admin)
    assert bad.status_code == 400 and "dead" in bad.json()["hint"]
    # without a broker, nothing can be sent to workers
    r = c.post(f"/api/v1/tasks/{tid}/retry", headers=admin)
    assert r.status_code == 409 and "broker_url" in r.json()["error"]
    c.post("/login", data={"token": ADMIN}, follow_redirects=False)
    page = c.get("/").text
    assert "Dead tasks" in page and tid in page and "503 six times" in page
