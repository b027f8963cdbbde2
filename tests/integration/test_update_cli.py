"""`patchwarden update` end to end: a real registry, real git repositories (a bare remote and
a clone), the real CLI process. Pull requests go to the forge stand-in in
tests/unit/forge/fake_forge.py, because no GitHub/GitLab/Gitea server can run here."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from testkit.cli_process import cli
from testkit.fake_forge import FakeForge

pytestmark = pytest.mark.integration


def git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)
    return proc.stdout.decode()  # no newline translation: CRLF must stay visible


@pytest.fixture()
def project(plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path) -> dict[str, Any]:
    R = plain_registry.host
    ns = f"u{uuid.uuid4().hex[:8]}"
    digests = {}
    for t in ("1.25.3", "1.27.0"):
        digests[f"web:{t}"] = pusher.image(plain_registry, f"{ns}/web", t)
    for t in ("7.2.3", "7.2.4"):
        digests[f"cache:{t}"] = pusher.image(plain_registry, f"{ns}/cache", t)
    remote = tmp_path / "remote.git"
    git("init", "--bare", "--quiet", "-b", "main", str(remote), cwd=tmp_path)
    work = tmp_path / "work"
    git("clone", "--quiet", str(remote), str(work), cwd=tmp_path)
    git("checkout", "--quiet", "-b", "main", cwd=work)
    (work / "Dockerfile").write_text(f"# base image\nFROM {R}/{ns}/web:1.25.3 AS web\n")
    (work / "compose.yaml").write_text(
        f"services:\n  cache:\n    image: {R}/{ns}/cache:7.2.3   # keep this comment\n"
        f"  web:\n    image: '{R}/{ns}/web:1.25.3'\r\n"
    )
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "init", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    return {"R": R, "ns": ns, "digests": digests, "remote": remote, "work": work, "tmp": tmp_path}


def test_dry_run_shows_diff_and_body_and_changes_nothing(project: dict[str, Any]) -> None:
    work = project["work"]
    before = (work / "compose.yaml").read_bytes()
    proc = cli(
        "update",
        ".",
        "--dry-run",
        "--no-progress",
        "--cache-dir",
        str(project["tmp"] / "c"),
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr
    assert "-FROM" in proc.stdout and "+FROM" in proc.stdout and "1.27.0" in proc.stdout
    assert "| file | image | from | to | update |" in proc.stdout
    assert (work / "compose.yaml").read_bytes() == before


def test_in_place_update_keeps_everything_else(project: dict[str, Any]) -> None:
    work, R, ns = project["work"], project["R"], project["ns"]
    before = (work / "compose.yaml").read_bytes()
    proc = cli(
        "update",
        ".",
        "--pin-digest",
        "--format",
        "json",
        "--cache-dir",
        str(project["tmp"] / "c"),
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr
    after = (work / "compose.yaml").read_bytes()
    d_cache, d_web = project["digests"]["cache:7.2.4"], project["digests"]["web:1.27.0"]
    assert after == (
        before.replace(b"cache:7.2.3", f"cache:7.2.4@{d_cache}".encode()).replace(
            b"web:1.25.3", f"web:1.27.0@{d_web}".encode()
        )
    )
    assert (
        work / "Dockerfile"
    ).read_text() == f"# base image\nFROM {R}/{ns}/web:1.27.0@{d_web} AS web\n"
    data = json.loads(proc.stdout)
    assert {g["branch"] for g in data["groups"]} == {
        f"patchwarden/{R.replace(':', '-')}-{ns}-cache",
        f"patchwarden/{R.replace(':', '-')}-{ns}-web",
    }


def test_commit_push_is_idempotent_and_never_touches_the_checkout(project: dict[str, Any]) -> None:
    work, remote = project["work"], project["remote"]
    (work / "notes.txt").write_text("untracked work in progress\n")
    with (work / "Dockerfile").open("a") as fh:
        fh.write("# uncommitted local edit\n")
    cache = ["--cache-dir", str(project["tmp"] / "c")]
    first = cli("update", ".", "--push", "--format", "json", *cache, cwd=work)
    assert first.returncode == 0, first.stderr
    groups = {g["branch"]: g for g in json.loads(first.stdout)["groups"]}
    web = next(b for b in groups if b.endswith("-web"))
    assert groups[web]["action"] == "committed" and groups[web]["pushed"] is True
    # the user's checkout: same branch, untracked and uncommitted work intact
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=work).strip() == "main"
    assert (work / "notes.txt").exists() and "uncommitted local edit" in (
        work / "Dockerfile"
    ).read_text()
    # the remote branch holds exactly the edit, on top of main
    show = git("show", f"{web}:compose.yaml", cwd=remote)
    assert "web:1.27.0'\r\n" in show and "cache:7.2.3   # keep this comment" in show
    log = git("log", "--format=%s%n%b", "-1", web, cwd=remote)
    assert log.startswith("Update 127.0.0.1") or "to 1.27.0" in log
    tip = git("rev-parse", web, cwd=remote).strip()
    # re-run: nothing new
    again = cli("update", ".", "--push", "--format", "json", *cache, cwd=work)
    assert again.returncode == 0, again.stderr
    g2 = {g["branch"]: g for g in json.loads(again.stdout)["groups"]}
    assert g2[web]["action"] == "unchanged" and g2[web]["pushed"] is False
    assert git("rev-parse", web, cwd=remote).strip() == tip
    # merge the web branch into main; the next run sees it merged and drops the branch
    git("checkout", "--quiet", "--", "Dockerfile", cwd=work)
    git("pull", "--quiet", "--no-rebase", "origin", web, cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    third = cli("update", ".", "--commit", "--format", "json", *cache, cwd=work)
    assert third.returncode == 0, third.stderr
    data = json.loads(third.stdout)
    branches = {g["branch"]: g["action"] for g in data["groups"]}
    assert web not in branches  # nothing left to update for web
    # the cache branch is rebuilt on the new main (its old base moved)
    assert branches[next(b for b in branches if b.endswith("-cache"))] == "updated"
    assert data["stale_branches"] == [{"branch": web, "action": "merged: deleted"}]
    assert web not in git("branch", "--list", "patchwarden/*", cwd=work)


def test_pull_requests_are_opened_updated_and_closed(project: dict[str, Any]) -> None:
    """The forge is the stand-in from tests/testkit/fake_forge.py (no GitLab can run here);
    git and the registry are real."""
    work = project["work"]
    fake = FakeForge("gitlab", repo="acme/app")
    try:
        args = [
            "update",
            ".",
            "--pull-request",
            "--format",
            "json",
            "--cache-dir",
            str(project["tmp"] / "c"),
            "--forge",
            "gitlab",
            "--forge-url",
            "https://gitlab.example.com/acme/app",
            "--forge-api",
            fake.api_url,
        ]
        env = {"GITLAB_TOKEN": fake.token}
        first = cli(*args, cwd=work, env=env)
        assert first.returncode == 0, first.stderr
        prs = {p.head: p for p in fake.prs.values()}
        assert len(prs) == 2 and all(p.state == "open" for p in prs.values())
        web = next(h for h in prs if h.endswith("-web"))
        assert prs[web].title.endswith("to 1.27.0")
        assert "| `compose.yaml:5` |" in prs[web].body and "| minor |" in prs[web].body
        again = cli(*args, cwd=work, env=env)
        assert again.returncode == 0, again.stderr
        assert len(fake.prs) == 2  # found by branch, not duplicated
        # the base gets the web update by other means: the web PR is closed as merged
        git("checkout", "--quiet", "--", ".", cwd=work)
        git("pull", "--quiet", "--no-rebase", "origin", web, cwd=work)
        git("push", "--quiet", "origin", "main", cwd=work)
        third = cli(*args, cwd=work, env=env)
        assert third.returncode == 0, third.stderr
        assert fake.prs[prs[web].number].state == "closed"
        assert fake.prs[prs[web].number].state != prs[next(h for h in prs if h != web)].state
        assert fake.token not in first.stdout + first.stderr + third.stdout + third.stderr
    finally:
        fake.stop()


def test_schedule_window_limits_when_changes_are_made(project: dict[str, Any]) -> None:
    from datetime import UTC, datetime

    work = project["work"]
    closed = (datetime.now(UTC).hour + 12) % 24
    (work / "patchwarden.yaml").write_text(
        f"schedule:\n  cron: '* {closed} * * *'\n  timezone: UTC\n"
    )
    args = ["update", ".", "--commit", "--format", "json", "--cache-dir", str(project["tmp"] / "c")]
    proc = cli(*args, cwd=work)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "outside the update schedule" in data["notes"][0]
    assert {g["action"] for g in data["groups"]} == {"dry-run"}
    assert git("branch", "--list", "patchwarden/*", cwd=work).strip() == ""
    (work / "patchwarden.yaml").write_text(
        "schedule:\n  cron: '* * * * *'\n  timezone: Europe/Berlin\n"
    )
    proc = cli(*args, cwd=work)
    assert {g["action"] for g in json.loads(proc.stdout)["groups"]} == {"committed"}


def test_commit_outside_a_git_repository_is_a_usage_error(project: dict[str, Any]) -> None:
    """Exit 2 (bad usage) with a hint, not 3; nothing is written."""
    plain = project["tmp"] / "plain"
    plain.mkdir()
    dockerfile = plain / "Dockerfile"
    text = (project["work"] / "Dockerfile").read_text()
    dockerfile.write_text(text)
    env = {"GIT_CEILING_DIRECTORIES": str(project["tmp"])}  # no repository above it either

    proc = cli("update", ".", "--commit", cwd=plain, env=env)

    assert proc.returncode == 2, proc.stderr
    assert "not inside a git repository" in proc.stderr and "--commit" in proc.stderr
    assert dockerfile.read_text() == text


def test_superseded_branches_are_kept_or_pruned(project: dict[str, Any]) -> None:
    work, remote = project["work"], project["remote"]
    cache = ["--cache-dir", str(project["tmp"] / "c")]
    first = cli("update", ".", "--push", "--format", "json", *cache, cwd=work)
    assert first.returncode == 0, first.stderr
    branch = next(g["branch"] for g in json.loads(first.stdout)["groups"] if "cache" in g["branch"])
    # main moves to 7.2.4 by hand (another commit than the branch's): the branch is superseded
    compose = work / "compose.yaml"
    compose.write_text(compose.read_text().replace("cache:7.2.3", "cache:7.2.4"))
    git("commit", "--quiet", "-am", "cache by hand", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)

    kept = cli("update", ".", "--commit", "--format", "json", *cache, cwd=work)
    assert kept.returncode == 0, kept.stderr
    stale = json.loads(kept.stdout)["stale_branches"]
    assert {"branch": branch, "action": "superseded: kept (--prune deletes it)"} in stale
    assert branch in git("branch", "--list", "patchwarden/*", cwd=work)

    pruned = cli("update", ".", "--push", "--prune", "--format", "json", *cache, cwd=work)
    assert pruned.returncode == 0, pruned.stderr
    stale = json.loads(pruned.stdout)["stale_branches"]
    assert {"branch": branch, "action": "superseded: deleted"} in stale
    assert branch not in git("branch", "--list", "patchwarden/*", cwd=work)
    assert branch not in git("branch", "--list", "patchwarden/*", cwd=remote)


def test_an_untracked_file_is_left_out_and_the_group_still_committed(
    project: dict[str, Any],
) -> None:
    work, R, ns = project["work"], project["R"], project["ns"]
    (work / "extra").mkdir()
    (work / "extra" / "Dockerfile").write_text(f"FROM {R}/{ns}/web:1.25.3\n")  # never committed
    cache = ["--cache-dir", str(project["tmp"] / "c")]
    proc = cli("update", ".", "--commit", "--format", "json", *cache, cwd=work)
    assert proc.returncode == 3, proc.stderr  # something was left out: not a clean run
    groups = {g["branch"]: g for g in json.loads(proc.stdout)["groups"]}
    web = next(b for b in groups if b.endswith("-web"))
    assert groups[web]["action"] == "committed"
    assert [x["file"] for x in groups[web]["left_out"]] == ["extra/Dockerfile"]
    assert "untracked" in groups[web]["left_out"][0]["reason"]
    assert "patchwarden-wt-" not in proc.stdout + proc.stderr  # no temp path leaks
    assert "web:1.27.0" in git("show", f"{web}:Dockerfile", cwd=work)
    table = cli("update", ".", "--commit", *cache, cwd=work)
    assert "left out extra/Dockerfile" in table.stdout


def test_pin_digest_writes_only_digests_it_verified(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    """The registry's HEAD names a digest; the manifest it serves does not hash to it (a
    lying registry, played by the misbehaving proxy): nothing is pinned to that digest."""
    from patchwarden.devtools.proxies import RegistryProxy

    ns = f"u{uuid.uuid4().hex[:8]}"
    for t in ("1.0.0", "1.1.0"):
        pusher.image(plain_registry, f"{ns}/app", t)
    with RegistryProxy(plain_registry.host) as proxy:
        proxy.corrupt(r"/manifests/")
        (tmp_path / "Dockerfile").write_text(f"FROM {proxy.host}/{ns}/app:1.0.0\n")
        before = (tmp_path / "Dockerfile").read_text()
        proc = cli("update", ".", "--pin-digest", "--format", "json", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    data = json.loads(proc.stdout)
    assert data["groups"] == []
    assert len(data["errors"]) == 1
    assert data["errors"][0]["reason"].startswith("not pinned: the digest sha256:")
    assert "could not be verified" in data["errors"][0]["reason"]
    assert (tmp_path / "Dockerfile").read_text() == before


def test_a_forge_failure_under_json_still_prints_json(project: dict[str, Any]) -> None:
    """The forge is the stand-in from tests/testkit/fake_forge.py (no GitLab can run here)."""

    work = project["work"]
    fake = FakeForge("gitlab", repo="acme/app")
    try:
        args = ["update", ".", "--pull-request", "--format", "json", "--no-cache"]
        args += ["--forge", "gitlab", "--forge-url", "https://gitlab.example.com/acme/app"]
        args += ["--forge-api", fake.api_url]
        env = {k: v for k, v in os.environ.items() if not k.endswith("_TOKEN")}
        missing = cli(*args, cwd=work, env=env)
        wrong = cli(*args, cwd=work, env={**env, "GITLAB_TOKEN": "not-the-token"})
    finally:
        fake.stop()
    assert missing.returncode == 2, missing.stderr
    assert "token" in json.loads(missing.stdout)["error"]["message"].lower()
    assert wrong.returncode == 3, wrong.stderr
    data = json.loads(wrong.stdout)  # JSON either way: per-group failures or the error
    assert data.get("error") or any(g["action"] == "failed" for g in data["groups"])
    assert "not-the-token" not in wrong.stdout + wrong.stderr
