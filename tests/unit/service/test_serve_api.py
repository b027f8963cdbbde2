"""The HTTP API of a real Service (SQLite store, real job runner) through Starlette's client."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from patchwarden.service.openapi import document
from testkit.serve_helpers import ADMIN, HOOK, Served, pending

DOCS = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def wait_for_run(s: Served, trigger_prefix: str, timeout: float = 20.0) -> dict[str, Any]:
    """The first finished run of ``trigger_prefix``, as the API's JSON has it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = s.client.get("/api/v1/jobs", headers=s.admin()).json()["runs"]
        done: list[dict[str, Any]] = [
            r for r in runs if r["trigger"].startswith(trigger_prefix) and r["finished_at"]
        ]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no finished {trigger_prefix} run: {runs}")


def _state(s: Served, pid: int) -> str | None:
    found = s.svc.fleet.get_pending(pid)
    return None if found is None else found.state


def test_health_ready_and_metrics_need_no_token(served: Served) -> None:
    c = served.client
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").json() == {"status": "ready"}
    wait_for_run(served, "startup")
    text = c.get("/metrics").text
    for name in (
        "patchwarden_images_tracked 0.0",
        'patchwarden_outdated_references{kind="major"} 0.0',
        'patchwarden_vulnerabilities{severity="critical"} 0.0',
        'patchwarden_job_runs_total{job="check",outcome="succeeded"} 1.0',
        'patchwarden_job_duration_seconds_count{job="check"} 1.0',
        'patchwarden_job_last_success_timestamp_seconds{job="check"}',
    ):
        assert name in text, name


def test_start_up_check_runs_once_without_a_schedule(served: Served) -> None:
    run = wait_for_run(served, "startup")
    assert run["outcome"] == "succeeded" and run["detail"].startswith("0 references")


def test_read_endpoints_need_a_token(served: Served) -> None:
    c = served.client
    r = c.get("/api/v1/references")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in r.json()["error"]
    assert c.get("/api/v1/references", headers=served.admin()).json() == {"references": []}


def test_tokens_roles_and_approvals(served: Served) -> None:
    c, admin = served.client, served.admin()
    r = c.post("/api/v1/tokens", json={"name": "grafana", "role": "read"}, headers=admin)
    assert r.status_code == 201
    reader = {"Authorization": f"Bearer {r.json()['token']}"}
    assert c.get("/api/v1/tokens", headers=reader).status_code == 403
    listed = c.get("/api/v1/tokens", headers=admin).json()["tokens"]
    assert [t["name"] for t in listed] == ["grafana"] and "token" not in json.dumps(
        listed[0]
    ).lower().replace('"name"', "")
    p, _ = served.svc.fleet.propose(pending())
    assert c.get("/api/v1/updates?state=pending", headers=reader).json()["updates"][0]["id"] == p.id
    assert c.post(f"/api/v1/updates/{p.id}/approve", headers=reader).status_code == 403
    r = c.post(f"/api/v1/updates/{p.id}/approve", headers=admin)
    assert r.status_code == 200 and r.json()["update"]["state"] == "approved"
    assert r.json()["update"]["decided_by"] == "admin"
    again = c.post(f"/api/v1/updates/{p.id}/deny", headers=admin)
    assert again.status_code == 409 and "approved" in again.json()["error"]
    assert c.post("/api/v1/updates/999/approve", headers=admin).status_code == 409
    audit = c.get("/api/v1/audit", headers=reader).json()["audit"]
    assert [(a["actor"], a["action"]) for a in audit[:2]] == [
        ("admin", "approve"),
        ("admin", "create-token"),
    ]
    assert c.delete("/api/v1/tokens/grafana", headers=admin).status_code == 200
    assert c.get("/api/v1/fleet", headers=reader).status_code == 401


def test_auth_failures_are_rate_limited(served: Served) -> None:
    c = served.client
    for _ in range(5):
        assert c.get("/api/v1/fleet", headers={"Authorization": "Bearer nope"}).status_code == 401
    r = c.get("/api/v1/fleet", headers=served.admin())
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "patchwarden_api_auth_failures_total 5.0" in c.get("/metrics").text


def test_registry_hook_queues_a_check_of_the_named_repository(served: Served) -> None:
    c = served.client
    body = {
        "events": [
            {
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "repository": "team/app",
                    "tag": "1.1",
                },
                "request": {"host": "127.0.0.1:5000"},
            }
        ]
    }
    assert c.post("/hooks/registry", json=body).status_code == 401
    r = c.post("/hooks/registry", json=body, headers={"Authorization": f"Bearer {HOOK}"})
    assert r.status_code == 202
    assert r.json() == {
        "accepted": ["127.0.0.1:5000/team/app"],
        "ignored_events": 0,
        "job": "check",
    }
    run = wait_for_run(served, "hook")
    assert "127.0.0.1:5000/team/app" in run["trigger"]
    assert (
        'patchwarden_hook_events_total{result="accepted",source="distribution"} 1.0'
        in c.get("/metrics").text
    )


def test_openapi_is_served_checked_in_and_lists_every_api_route(served: Served) -> None:
    served_doc = served.client.get("/openapi.json").json()
    assert served_doc == document()
    assert json.loads(DOCS.read_text()) == served_doc, "regenerate docs/openapi.json"
    from patchwarden.service.api import Api

    routes = {
        (r.path, m.lower())
        for r in Api(served.svc).routes()
        for m in r.methods or ()
        if m != "HEAD"
    }
    documented = {(p, m) for p, ops in served_doc["paths"].items() for m in ops}
    assert routes == documented


def test_job_trigger_needs_admin_and_a_known_job(served: Served) -> None:
    c = served.client
    assert c.post("/api/v1/jobs/nope/run", headers=served.admin()).status_code == 404
    assert c.post("/api/v1/jobs/check/run").status_code == 401
    assert c.post("/api/v1/jobs/check/run", headers=served.admin()).status_code == 202
    wait_for_run(served, "api")


def test_dashboard_login_csrf_and_approve(served: Served) -> None:
    c = served.client
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.post("/login", data={"token": "wrong"}).status_code == 401
    r = c.post("/login", data={"token": ADMIN}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    p, _ = served.svc.fleet.propose(pending(7))
    page = c.get("/").text
    assert "Pending updates" in page and f"/ui/updates/{p.id}/approve" in page
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    assert c.post(f"/ui/updates/{p.id}/approve", data={"csrf": "forged"}).status_code == 403
    assert _state(served, p.id) == "pending"
    r = c.post(f"/ui/updates/{p.id}/approve", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert _state(served, p.id) == "approved"
    assert "approve" in c.get("/audit").text


def test_grafana_dashboard_uses_only_metrics_serve_exports(served: Served) -> None:
    import re

    dash = json.loads((DOCS.parents[1] / "contrib" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\bpatchwarden_[a-z_]+", e)}
    text = served.client.get("/metrics").text
    exported = set(re.findall(r"^# TYPE (patchwarden_[a-z_]+) (\w+)", text, re.M))
    names = {n for n, _ in exported}
    names |= {f"{n}_total" for n, kind in exported if kind == "counter"}
    names |= {f"{n}_bucket" for n, kind in exported if kind == "histogram"}
    assert used and used <= names, used - names


def test_rollback_needs_admin_and_an_engine(served: Served) -> None:
    c = served.client
    assert c.post("/api/v1/containers/web/rollback").status_code == 401
    r = c.post("/api/v1/containers/web/rollback", headers=served.admin())
    assert r.status_code == 400 and "serve.engine" in r.json()["hint"]


def test_history_lists_container_updates_like_engine_history(served: Served) -> None:
    from datetime import UTC, datetime

    from patchwarden.store import UpdateRecord

    c, now = served.client, datetime.now(UTC)
    assert c.get("/api/v1/history").status_code == 401
    assert c.get("/api/v1/history", headers=served.admin()).json() == {"records": []}
    for name, to in (("web", "sha256:" + "2" * 64), ("db", "sha256:" + "4" * 64)):
        old = ("sha256:" + "1" * 64, f"r.example/{name}:1")
        record = UpdateRecord(
            None, now, now, name, old[1], old[0], f"r.example/{name}:2", to, "updated", "test"
        )
        served.svc.store.record(record)
    got = c.get("/api/v1/history?container=web", headers=served.admin()).json()["records"]
    assert [(r["container"], r["outcome"], r["to_digest"]) for r in got] == [
        ("web", "updated", "sha256:" + "2" * 64)
    ]
    assert len(c.get("/api/v1/history?limit=1", headers=served.admin()).json()["records"]) == 1
