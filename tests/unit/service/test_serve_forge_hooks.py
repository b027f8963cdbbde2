"""Git forge push webhooks and GitHub package payloads. The payload shapes are those GitHub,
GitLab and Gitea document (trimmed to the keys serve reads; no forge can run here, so the
forge side is these bodies); the git side is real: a bare origin, a checkout serve watches,
a push from another clone, and serve's check job fast-forwarding and re-inventorying it."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from patchwarden.config.schema import Config
from patchwarden.service.app import build_app
from patchwarden.service.forgehooks import parse_push
from patchwarden.service.hooks import parse
from patchwarden.service.process import Service
from testkit.serve_helpers import ADMIN, HOOK


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def _payload(kind: str, url: str, ref: str = "refs/heads/main") -> dict[str, Any]:
    if kind == "gitlab":
        return {"object_kind": "push", "ref": ref, "project": {"git_http_url": url}}
    return {"ref": ref, "repository": {"clone_url": url, "full_name": "team/deploy"}}


def _headers(kind: str, body: bytes, secret: str = HOOK) -> dict[str, str]:
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if kind == "github":
        return {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={sig}"}
    if kind == "gitea":
        return {"X-Gitea-Event": "push", "X-Gitea-Signature": sig}
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret}


@pytest.mark.parametrize("kind", ["github", "gitlab", "gitea"])
def test_a_push_pulls_the_checkout_and_reinventories_it(tmp_path: Path, kind: str) -> None:
    origin, work, other = tmp_path / "deploy.git", tmp_path / "watched", tmp_path / "other"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(other))
    (other / "Dockerfile").write_text("FROM 127.0.0.1:9/team/base:1.0\n")
    git(other, "add", "."), git(other, "commit", "-qm", "one"), git(other, "push", "-q")
    git(tmp_path, "clone", "-q", str(origin), str(work))
    # the forge's clone URL for the origin (the watched checkout's origin is set to it)
    url = "https://git.example.org/team/deploy.git"
    git(work, "remote", "set-url", "origin", url)
    git(work, "config", f"url.{origin}.insteadOf", url)  # fetch from the real bare repo
    env = {"PATCHWARDEN_API_TOKEN": ADMIN, "PATCHWARDEN_HOOK_TOKEN": HOOK}
    svc = Service(Config(), [work], state=str(tmp_path / "s.db"), env=env)
    with TestClient(build_app(svc, manage=False), base_url="http://127.0.0.1") as client:
        # someone pushes a second Dockerfile; the forge tells serve
        (other / "api").mkdir()
        (other / "api" / "Dockerfile").write_text("FROM 127.0.0.1:9/team/api:2.0\n")
        git(other, "add", "."), git(other, "commit", "-qm", "two"), git(other, "push", "-q")
        body = json.dumps(_payload(kind, url)).encode()
        bad = client.post("/hooks/git", content=body, headers=_headers(kind, body, "wrong"))
        assert bad.status_code == 401 and kind in bad.json()["error"]
        r = client.post("/hooks/git", content=body, headers=_headers(kind, body))
        assert r.status_code == 202, r.text
        assert r.json() == {
            "repository": "git.example.org/team/deploy",
            "branch": "main",
            "paths": [str(work)],
            "job": "check",
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            svc.jobs.runs("check") and svc.jobs.runs("check")[0].finished_at
        ):
            time.sleep(0.1)
        assert (work / "api" / "Dockerfile").is_file()  # fast-forwarded
        assert svc.fleet.item("file:api/Dockerfile:1") is not None  # and re-inventoried
        run = svc.jobs.runs("check")[0]
        assert run.trigger.startswith(f"git: {kind} push to git.example.org/team/deploy")
        assert f"{work}: pulled main" in run.detail
        # another repository, a ping, a tag push: accepted, nothing runs
        elsewhere = json.dumps(_payload(kind, "https://git.example.org/team/other.git")).encode()
        r = client.post("/hooks/git", content=elsewhere, headers=_headers(kind, elsewhere))
        assert r.status_code == 202 and r.json()["job"] is None
    svc.stop(1)


def test_forge_payload_problems_are_clear() -> None:
    assert parse_push("github", "ping", b"{}") is None
    tag = parse_push(
        "gitea", "push", json.dumps(_payload("gitea", "https://h/o/r.git", "refs/tags/v1")).encode()
    )
    assert tag is not None and tag.branch is None and tag.path == "o/r"
    from patchwarden.service.hooks import HookError

    with pytest.raises(HookError) as e:
        parse_push("gitlab", "push hook", b'{"ref": "refs/heads/main"}')
    assert e.value.status == 400 and "malformed gitlab push payload" in e.value.message


def test_no_forge_header_and_no_secret(tmp_path: Path) -> None:
    svc = Service(Config(), [tmp_path], state=str(tmp_path / "s.db"), env={})
    with TestClient(build_app(svc, manage=False), base_url="http://127.0.0.1") as client:
        r = client.post("/hooks/git", content=b"{}")
        assert r.status_code == 400 and "X-GitHub-Event" in r.json()["error"]
        r = client.post("/hooks/git", content=b"{}", headers={"X-GitHub-Event": "push"})
        assert r.status_code == 503 and "PATCHWARDEN_HOOK_TOKEN" in r.json()["hint"]
    svc.stop(1)


# GitHub's registry_package event (docs: "webhook events and payloads", trimmed)
GITHUB_PACKAGE = {
    "action": "published",
    "registry_package": {
        "name": "Hello_Docker",
        "namespace": "octo-org",
        "package_type": "CONTAINER",
        "package_version": {
            "version": "sha256:" + "c" * 64,
            "package_url": "ghcr.io/octo-org/hello_docker:1.1",
            "container_metadata": {"tag": {"name": "1.1", "digest": "sha256:" + "c" * 64}},
        },
        "registry": {"url": "https://ghcr.io/octo-org", "type": "CONTAINER"},
    },
}


def test_github_package_payloads() -> None:
    ev = parse(json.dumps(GITHUB_PACKAGE).encode())
    assert ev.source == "github" and ev.repositories == frozenset({"ghcr.io/octo-org/hello_docker"})
    pkg: dict[str, Any] = dict(GITHUB_PACKAGE["registry_package"])  # type: ignore[arg-type]
    pkg["package_version"] = {}
    ev = parse(json.dumps({"action": "updated", "package": pkg}).encode())
    assert ev.repositories == frozenset({"ghcr.io/octo-org/hello_docker"})
    npm = {"action": "published", "registry_package": {**pkg, "package_type": "npm"}}
    assert parse(json.dumps(npm).encode()).repositories == frozenset()
