"""`patchwarden serve` end to end: the real process, a real registry posting its
notifications to serve, skopeo pushing images, a real SMTP server and webhook receiver."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from patchwarden.devtools.registry_server import RegistryServer, free_port
from patchwarden.devtools.skopeo import Pusher
from testkit.receiver import WebhookSink
from testkit.serve_env import ServeProcess, SmtpSink, wait_until
from testkit.tools import require_tool

pytestmark = pytest.mark.integration

ADMIN = "pw-admin-" + "7" * 32
HOOK = "pw-hook-" + "5" * 24


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    for tool in ("docker-registry", "skopeo"):
        require_tool(tool)
    port = free_port()
    with (
        RegistryServer(
            "none", notify_url=f"http://127.0.0.1:{port}/hooks/registry", notify_token=HOOK
        ) as reg,
        SmtpSink() as smtp,
        WebhookSink() as hook_sink,
    ):
        yield {"port": port, "reg": reg, "smtp": smtp, "webhook": hook_sink, "tmp": tmp_path}


def _config(reg: RegistryServer) -> str:
    return (
        "registries:\n"
        f"  '{reg.host}':\n    insecure: true\n"
        "serve:\n"
        "  log_format: json\n"
        "  notify:\n"
        "    - url_env: PW_TEST_MAIL\n      events: [update-available, job-failed]\n"
        "    - url_env: PW_TEST_HOOK\n      events: [update-available]\n"
    )


def test_a_push_triggers_a_check_and_one_alert_per_change(world: dict[str, Any]) -> None:
    reg: RegistryServer = world["reg"]
    smtp: SmtpSink = world["smtp"]
    sink: WebhookSink = world["webhook"]
    tmp: Path = world["tmp"]
    pusher = Pusher(tmp / "layouts")
    pusher.image(reg, "team/app", "1.0", salt="one")
    repo = tmp / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text(f"FROM {reg.host}/team/app:1.0\nRUN true\n")
    (repo / "patchwarden.yaml").write_text(_config(reg))
    env = {
        "PATCHWARDEN_API_TOKEN": ADMIN,
        "PATCHWARDEN_HOOK_TOKEN": HOOK,
        "PW_TEST_MAIL": smtp.apprise_url(),
        "PW_TEST_HOOK": sink.apprise_url(),
    }
    serve = ServeProcess(
        [".", "-c", "patchwarden.yaml", "--state", str(tmp / "state.db")], env, repo, world["port"]
    ).start()
    admin = {"Authorization": f"Bearer {ADMIN}"}
    api = httpx.Client(base_url=serve.url, headers=admin, timeout=10)
    try:
        # start-up: inventory + check of the paths (no schedule configured)
        refs = wait_until(
            "the start-up check",
            lambda: api.get("/api/v1/references").json()["references"],
        )
        assert [(r["source"], r["status"]) for r in refs] == [("Dockerfile:1", "up-to-date")]
        assert smtp.messages == []

        # a push to the registry: distribution notifies serve, which checks that repository
        new = pusher.image(reg, "team/app", "1.1", salt="two")
        outdated = wait_until(
            "the hook-triggered check",
            lambda: [
                r
                for r in api.get("/api/v1/references").json()["references"]
                if r["status"] == "outdated"
            ],
        )
        assert outdated[0]["candidate_tag"] == "1.1" and outdated[0]["candidate_digest"] == new
        assert outdated[0]["update_kind"] == "minor"
        runs = api.get("/api/v1/jobs").json()["runs"]
        assert any(r["trigger"].startswith("hook: distribution") for r in runs), runs
        wait_until("the e-mail", lambda: smtp.messages)
        assert "update available" in smtp.messages[0] and "team/app" in smtp.messages[0]
        assert "1.0 -> 1.1 (minor)" in smtp.messages[0]
        wait_until("the webhook alert", lambda: sink.bodies)
        assert "team/app" in json.dumps(sink.bodies[0])

        # another check of the same state: no second alert (one per change, not per run)
        assert api.post("/api/v1/jobs/check/run").status_code == 202
        wait_until(
            "the API-triggered check",
            lambda: [
                r
                for r in api.get("/api/v1/jobs").json()["runs"]
                if r["trigger"].startswith("api") and r["finished_at"]
            ],
        )
        assert len(smtp.messages) == 1 and len(sink.bodies) == 1

        metrics = httpx.get(f"{serve.url}/metrics").text
        assert 'patchwarden_outdated_references{kind="minor"} 1.0' in metrics
        assert "patchwarden_images_tracked 1.0" in metrics
        assert 'patchwarden_registry_requests_total{kind="tags"}' in metrics
        assert 'patchwarden_hook_events_total{result="accepted",source="distribution"}' in metrics
        wrong = httpx.post(
            f"{serve.url}/hooks/registry",
            json={"events": []},
            headers={"Authorization": "Bearer forged"},
        )
        assert wrong.status_code == 401
    finally:
        code = serve.stop(signal.SIGTERM)
    assert code == 0, serve.log_text()[-3000:]
    log = serve.log_text()
    assert ADMIN not in log and HOOK not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any("job check succeeded" in line["message"] for line in lines)


DPKG_STATUS = (
    b"Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\n"
    b"Architecture: amd64\nSource: zlib\n\n"
    b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\n"
    b"Architecture: amd64\nSource: glibc\n\n"
)
OS_RELEASE = b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def test_scan_through_the_api(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    from starlette.testclient import TestClient

    from patchwarden.config.schema import Config
    from patchwarden.service.app import build_app
    from patchwarden.service.process import Service

    pusher.image(
        plain_registry,
        "serve/scanme",
        "1",
        files={"var/lib/dpkg/status": DPKG_STATUS, "etc/os-release": OS_RELEASE},
    )
    cfg = Config.model_validate(
        {
            "registries": {plain_registry.host: {"insecure": True}},
            "cache": {"dir": str(tmp_path / "cache")},
        }
    )
    (tmp_path / "repo").mkdir()
    svc = Service(
        cfg,
        [tmp_path / "repo"],
        state=str(tmp_path / "s.db"),
        env={"PATCHWARDEN_API_TOKEN": ADMIN},
    )
    admin = {"Authorization": f"Bearer {ADMIN}"}
    image = f"{plain_registry.host}/serve/scanme:1"
    with TestClient(build_app(svc, manage=False)) as c:
        assert c.get(f"/api/v1/scan?image={image}&sbom_only=1").status_code == 401
        for _ in range(2):  # cold, then warm from the layer cache: the same answer
            r = c.get(f"/api/v1/scan?image={image}&sbom_only=1", headers=admin)
            assert r.status_code == 200, r.text
            names = sorted(p["name"] for p in r.json()["packages"])
            assert names == ["libc6", "zlib1g"]
        bad = c.get("/api/v1/scan?image=Not A Reference", headers=admin)
        assert bad.status_code == 400 and "lowercase" in bad.json()["error"]
        assert c.get("/api/v1/scan", headers=admin).status_code == 400
    svc.stop(1)
