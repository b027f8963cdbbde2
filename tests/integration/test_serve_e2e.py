"""The issue's end-to-end story with real parts only: ``patchwarden serve`` watching a real
registry (its notifications post to serve) and a real engine (Podman's Docker API). A push
triggers a check, an e-mail arrives over SMTP, the pending update is approved through the API,
the container is updated, and /metrics and the dashboard (headless Chromium driven by
Playwright) show the new state."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from patchwarden.devtools.registry_server import RegistryServer, free_port
from patchwarden.engine.client import EngineClient
from patchwarden.store import open_store
from testkit.podman import engine_url, push_web_image
from testkit.serve_env import ServeProcess, SmtpSink, wait_until
from testkit.tools import require_tool, unavailable

__all__ = ["engine_url"]  # a fixture (tests/integration/podman.py) used by name
pytestmark = pytest.mark.integration
ADMIN = "pw-e2e-admin-" + "3" * 32
HOOK = "pw-e2e-hook-" + "9" * 24
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _wait_http(port: int) -> str:
    def get() -> str | None:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/version", timeout=2)
        except httpx.HTTPError:
            return None
        return r.text if r.status_code == 200 else None

    return str(wait_until(f"http on {port}", get, 20))


@dataclass
class Scene:
    """A registry notifying serve, an SMTP sink, one container running ``repo:1.0.0``."""

    engine: EngineClient
    reg: RegistryServer
    smtp: SmtpSink
    layouts: Path
    repo: str
    name: str
    app_port: int
    d1: str
    work: Path
    serve_port: int
    state: Path

    def serve(self) -> ServeProcess:
        env = {
            "PATCHWARDEN_API_TOKEN": ADMIN,
            "PATCHWARDEN_HOOK_TOKEN": HOOK,
            "PW_E2E_MAIL": self.smtp.apprise_url(),
        }
        args = [".", "-c", "patchwarden.yaml", "--state", str(self.state)]
        return ServeProcess(args, env, self.work, self.serve_port).start()

    def api(self, serve: ServeProcess) -> httpx.Client:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        return httpx.Client(base_url=serve.url, headers=headers, timeout=10)

    def row(self, api: httpx.Client) -> dict[str, Any] | None:
        refs = api.get("/api/v1/references").json()["references"]
        return next((r for r in refs if r["key"] == f"container:{self.name}"), None)


@contextmanager
def scene(engine_url: str, tmp_path: Path) -> Iterator[Scene]:
    for tool in ("docker-registry", "skopeo"):
        require_tool(tool)
    engine = EngineClient(engine_url)
    serve_port = free_port()
    repo = f"web-{uuid.uuid4().hex[:6]}"
    name = f"pwe2e-{uuid.uuid4().hex[:6]}"
    with (
        RegistryServer(
            "none", notify_url=f"http://127.0.0.1:{serve_port}/hooks/registry", notify_token=HOOK
        ) as reg,
        SmtpSink() as smtp,
    ):
        layouts = tmp_path / "layouts"
        d1 = push_web_image(layouts, reg.host, repo, "1.0.0", version="v1")
        image, app_port = f"{reg.host}/{repo}:1.0.0", free_port()
        engine.api.pull(f"{reg.host}/{repo}", tag="1.0.0")
        ports = {"8080/tcp": [{"HostIp": "", "HostPort": str(app_port)}]}
        body = {"Image": image, "HostConfig": {"PortBindings": ports}}
        cid = str(engine.api.create_container_from_config(body, name=name)["Id"])
        try:
            engine.api.start(cid)
            assert _wait_http(app_port) == "v1"
            work = tmp_path / "work"
            work.mkdir()
            (work / "patchwarden.yaml").write_text(
                f"registries:\n  '{reg.host}':\n    insecure: true\n"
                f"serve:\n  engine: {engine_url}\n"
                "  notify:\n    - url_env: PW_E2E_MAIL\n"
            )
            yield Scene(
                engine,
                reg,
                smtp,
                layouts,
                repo,
                name,
                app_port,
                d1,
                work,
                serve_port,
                tmp_path / "state.db",
            )
        finally:
            for c in engine.api.containers(all=True):
                if any(n.lstrip("/").startswith(name) for n in c.get("Names") or []):
                    engine.api.remove_container(c["Id"], force=True)


def _subjects(smtp: SmtpSink) -> list[str]:
    return [m.split("Subject: ", 1)[1].split("\r\n", 1)[0] for m in smtp.messages]


def test_push_alert_approve_update_and_see_it(engine_url: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        unavailable("Debian's chromium is not installed (scripts/install-system-deps.sh)")
    with scene(engine_url, tmp_path) as sc:
        engine, reg, smtp, layouts, repo, name = (
            sc.engine,
            sc.reg,
            sc.smtp,
            sc.layouts,
            sc.repo,
            sc.name,
        )
        app_port, d1, key = sc.app_port, sc.d1, f"container:{sc.name}"
        serve = sc.serve()
        api = sc.api(serve)

        def row() -> dict[str, Any] | None:
            return sc.row(api)

        try:
            first = wait_until("the start-up check of the container", row)
            assert first["status"] == "up-to-date" and first["current_digest"] == d1

            d2 = push_web_image(layouts, reg.host, repo, "1.0.1", version="v2")
            pending = wait_until(
                "a pending update",
                lambda: api.get("/api/v1/updates?state=pending").json()["updates"],
            )
            (p,) = pending
            assert (p["container"], p["to_digest"], p["update_kind"]) == (name, d2, "patch")
            wait_until("the e-mail", lambda: smtp.messages)
            assert f"update available for container {name}" in smtp.messages[0]
            assert _wait_http(app_port) == "v1"  # nothing changes before the approval

            r = api.post(f"/api/v1/updates/{p['id']}/approve")
            assert r.status_code == 200, r.text
            done = wait_until(
                "the approved update to be applied",
                lambda: [
                    u
                    for u in api.get("/api/v1/updates").json()["updates"]
                    if u["id"] == p["id"] and u["state"] not in ("approved", "applying")
                ],
                120,
            )
            assert done[0]["state"] == "applied", done
            assert _wait_http(app_port) == "v2"
            assert engine.info(name).digest == d2
            wait_until(
                "the re-check after the update", lambda: (row() or {}).get("current_digest") == d2
            )

            metrics = httpx.get(f"{serve.url}/metrics").text
            assert (
                'patchwarden_container_updates_total{action="update",outcome="updated"} 1.0'
                in metrics
            )
            assert 'patchwarden_pending_updates{state="applied"} 1.0' in metrics
            assert 'patchwarden_outdated_references{kind="patch"} 0.0' in metrics

            _dashboard(serve.url, key, name, tmp_path)
            rolled = wait_until(
                "the rollback from the dashboard",
                lambda: [
                    u
                    for u in api.get("/api/v1/updates").json()["updates"]
                    if u["update_kind"] == "rollback" and u["state"] not in ("approved", "applying")
                ],
                120,
            )
            assert rolled[0]["state"] == "applied", rolled
            assert _wait_http(app_port) == "v1" and engine.info(name).digest == d1
            # one alert per change: available, applied, rolled back: once each
            wait_until("the rollback e-mail", lambda: len(smtp.messages) >= 3)
            subjects = _subjects(smtp)
            assert len(subjects) == 3, subjects
            assert "update available" in subjects[0] and "update applied" in subjects[1]
            assert "rollback applied" in subjects[2]
        finally:
            code = serve.stop(signal.SIGTERM)
        assert code == 0, serve.log_text()[-3000:]
        assert ADMIN not in serve.log_text()


def _dashboard(url: str, key: str, name: str, tmp_path: Path) -> None:
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("PATCHWARDEN_SCREENSHOTS", tmp_path / "screenshots"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{url}/")
            assert page.url.endswith("/login")
            page.fill("input[name=token]", ADMIN)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            assert page.inner_text("#images b") == "1"
            assert page.inner_text("#outdated-patch b") == "0"
            row = page.locator("#fleet tr", has_text=name)
            assert "up-to-date" in row.inner_text()
            page.screenshot(path=str(shots / "fleet.png"), full_page=True)
            page.click(f"a[href='/images/{quote(key, safe='')}']")
            assert page.inner_text("#status") == "up-to-date"
            assert "applied" in page.inner_text("#updates")
            history = page.inner_text("#history")
            assert "update" in history and "updated" in history
            page.screenshot(path=str(shots / "image.png"), full_page=True)
            page.goto(f"{url}/audit")
            audit = page.inner_text("#audit")
            assert "approve" in audit and "apply:applied" in audit
            # roll back from the image page (a CSRF-protected form, admin only)
            page.goto(f"{url}/images/{quote(key, safe='')}")
            page.click("#rollback")
            page.wait_for_url(f"{url}/images/**")
            assert "rollback" in page.inner_text("#updates")
        finally:
            browser.close()


def test_killed_during_an_update_then_restarted_never_repeats_a_side_effect(
    engine_url: str, tmp_path: Path
) -> None:
    with scene(engine_url, tmp_path) as sc:
        serve = sc.serve()
        api = sc.api(serve)
        try:
            wait_until("the start-up check", lambda: sc.row(api))
            d2 = push_web_image(sc.layouts, sc.reg.host, sc.repo, "1.0.1", version="v2")
            (p,) = wait_until(
                "a pending update",
                lambda: api.get("/api/v1/updates?state=pending").json()["updates"],
            )
            # as a person would: the alert arrives, then the update is approved (an alert
            # claimed but not yet sent when serve is killed is lost, never sent twice)
            wait_until("the e-mail", lambda: sc.smtp.messages)
            assert api.post(f"/api/v1/updates/{p['id']}/approve").status_code == 200
            wait_until(
                "the update to be claimed",
                lambda: api.get("/api/v1/updates?state=applying").json()["updates"],
                60,
            )
        finally:
            serve.stop(signal.SIGKILL)  # no graceful anything: mid-update
        again = sc.serve()
        api = sc.api(again)
        try:
            settled = wait_until(
                "the interrupted update to be settled",
                lambda: [
                    u
                    for u in api.get("/api/v1/updates").json()["updates"]
                    if u["id"] == p["id"] and u["state"] in ("applied", "failed")
                ],
                90,
            )
            info = sc.engine.info(sc.name)
            assert info.running
            # settled by what the container runs; never attempted a second time
            assert (settled[0]["state"] == "applied") == (info.digest == d2), settled
            wait_until(
                "the check after the restart", lambda: api.get("/api/v1/jobs").json()["runs"]
            )
            audit = api.get("/api/v1/audit").json()["audit"]
            assert [a["action"] for a in audit].count("approve") == 1
            assert not [a for a in audit if a["action"].startswith("apply:")]  # not re-applied
            assert [a for a in audit if a["action"].startswith("settle:")]
            updates = api.get("/api/v1/updates").json()["updates"]
            assert len(updates) == 1  # the restart's check did not propose it again
            with open_store(str(sc.state)) as store:
                attempts = [r for r in store.history(sc.name) if r.action == "update"]
            assert len(attempts) <= 1
            assert [s for s in _subjects(sc.smtp) if "update available" in s] == [
                f"[patchwarden] update available for container {sc.name}"
            ]
        finally:
            assert again.stop(signal.SIGTERM) == 0


def test_engine_update_kind_without_approvals_then_scan_of_the_running_image(
    engine_url: str, tmp_path: Path
) -> None:
    """The ``engine-update`` kind with ``serve.approvals: false`` is ``engine update``: the
    container moves to the pushed patch release, health-gated, recorded, announced once;
    then the ``scan`` kind stores the SBOM of the image the container now runs. Before that,
    while the maintenance window or the image's policy schedule is closed, it touches
    nothing."""
    from patchwarden.config.schema import Config
    from patchwarden.config.serve import JobName
    from patchwarden.service.kinds import run_kind
    from patchwarden.service.process import Service

    with scene(engine_url, tmp_path) as sc:
        d2 = push_web_image(sc.layouts, sc.reg.host, sc.repo, "1.0.1", version="v2")
        never = "0 0 30 2 *"  # February 30th

        def config(**closed: Any) -> Config:
            return Config.model_validate(
                {
                    "registries": {sc.reg.host: {"insecure": True}},
                    "cache": {"dir": str(tmp_path / "cache")},
                    "serve": {
                        "engine": engine_url,
                        "approvals": False,
                        "notify": [{"url_env": "PW_E2E_MAIL", "events": ["job-changed"]}],
                        # another image's closed schedule does not hold this one back
                        "schedules": [{"match": "docker.io/*", "cron": never}],
                        **closed,
                    },
                }
            )

        env = {"PATCHWARDEN_API_TOKEN": ADMIN, "PW_E2E_MAIL": sc.smtp.apprise_url()}
        svc = Service(config(), [sc.work], state=str(sc.state), env=env)
        try:
            mine = {"match": f"{sc.reg.host}/{sc.repo}", "cron": never}
            svc.ctx.config = config(maintenance_windows=[{"cron": never}])
            res = run_kind(JobName.ENGINE_UPDATE, svc.ctx, {"containers": [sc.name]})
            assert res.summary.startswith("outside the maintenance windows: nothing updated")
            svc.ctx.config = config(schedules=[mine])
            res = run_kind(JobName.ENGINE_UPDATE, svc.ctx, {"containers": [sc.name]})
            assert (res.changes, res.summary) == (0, "1 skipped"), res
            assert [r["reason"] for r in res.data["results"]] == ["waits for its policy schedule"]
            assert sc.engine.info(sc.name).digest == sc.d1 and _wait_http(sc.app_port) == "v1"
            assert not svc.store.history(sc.name) and not sc.smtp.messages
            svc.ctx.config = config()
            res = run_kind(JobName.ENGINE_UPDATE, svc.ctx, {"containers": [sc.name]})
            assert res.changes == 1, res
            assert [r["outcome"] for r in res.data["results"]] == ["updated"], res.data
            assert _wait_http(sc.app_port) == "v2" and sc.engine.info(sc.name).digest == d2
            assert [h.outcome for h in svc.store.history(sc.name)][:1] == ["updated"]
            wait_until("the job-changed mail", lambda: sc.smtp.messages)
            assert "job engine-update: 1 change(s)" in _subjects(sc.smtp)[0]
            again = run_kind(JobName.ENGINE_UPDATE, svc.ctx, {"containers": [sc.name]})
            assert again.changes == 0 and len(sc.smtp.messages) == 1
            # the running image becomes a known image, and its SBOM is stored once
            run_kind(JobName.CHECK, svc.ctx, {})
            scanned = run_kind(JobName.SCAN, svc.ctx, {})
            assert scanned.data["scanned"] == [f"{sc.reg.host}/{sc.repo}@{d2}"], scanned
            assert svc.sboms.known([d2]) == {d2}
            assert run_kind(JobName.SCAN, svc.ctx, {}).data["scanned"] == []
        finally:
            svc.stop(1)
