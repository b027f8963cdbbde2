"""`patchwarden update` on references built from variables, end to end: a real registry
(images pushed with skopeo), real git repositories, the real CLI process.

ARG defaults and compose ``${VAR:-default}`` defaults are written; a reference that cannot be
written is skipped with its reason and exit code 5, and never holds back the others;
``--commit`` on a detached HEAD takes the CI's base branch or stops with exit 2; commits are
authored as the repository's git user unless ``git.author`` says otherwise."""

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
from testkit.cli_process import cli as run_cli

pytestmark = pytest.mark.integration

CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_", "GITHUB_", "CI_"))
}


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=CLEAN_ENV, check=True, capture_output=True, text=True
    )
    return proc.stdout


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, env=env, base=CLEAN_ENV)  # no git identity of the caller's


@pytest.fixture()
def repo(plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path) -> dict[str, Any]:
    R = plain_registry.host
    ns = f"v{uuid.uuid4().hex[:8]}"
    for t in ("18-alpine", "20-alpine"):
        pusher.image(plain_registry, f"{ns}/node", t)
    for t in ("7.2.3", "7.2.4"):
        pusher.image(plain_registry, f"{ns}/cache", t)
    work = tmp_path / "work"
    work.mkdir()
    git("init", "--quiet", "-b", "main", cwd=work)
    git("config", "user.name", "Repo User", cwd=work)
    git("config", "user.email", "repo.user@example.org", cwd=work)
    # Modelled on docker/awesome-compose react-express-mongodb (ARG-built FROM) and compose
    # files that default their tags (${TAG:-x}).
    (work / "Dockerfile").write_text(f"ARG NODE=18\nFROM {R}/{ns}/node:${{NODE}}-alpine\n")
    (work / "compose.yaml").write_text(
        f"services:\n  cache:\n    image: {R}/{ns}/cache:${{CACHE_TAG:-7.2.3}}  # pinned\n"
    )
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "init", cwd=work)
    return {"R": R, "ns": ns, "work": work, "cache": str(tmp_path / "cache")}


def test_dry_run_writes_arg_and_default_values_and_exits_0(repo: dict[str, Any]) -> None:
    work = repo["work"]
    proc = cli("update", ".", "--dry-run", "--group", "all", "--cache-dir", repo["cache"], cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "-ARG NODE=18\n+ARG NODE=20\n" in proc.stdout
    assert "${CACHE_TAG:-7.2.4}  # pinned" in proc.stdout
    assert (work / "Dockerfile").read_text().startswith("ARG NODE=18\n")  # dry run


def test_unwritable_reference_is_skipped_with_exit_5_and_the_rest_is_written(
    repo: dict[str, Any],
) -> None:
    work, R, ns = repo["work"], repo["R"], repo["ns"]
    (work / "Dockerfile").write_text(
        f'ARG NODE=18\nFROM {R}/{ns}/node:${{NODE}}-alpine\nLABEL node="${{NODE}}"\n'
    )
    proc = cli(
        "update", ".", "--group", "all", "--format", "json", "--cache-dir", repo["cache"], cwd=work
    )
    assert proc.returncode == 5, proc.stdout + proc.stderr
    [group] = json.loads(proc.stdout)["groups"]
    assert group["action"] == "written"
    [skipped] = group["skipped"]
    assert skipped["file"] == "Dockerfile" and skipped["line"] == 2
    assert "ARG NODE is also used at line 3" in skipped["reason"]
    assert "${CACHE_TAG:-7.2.4}  # pinned" in (work / "compose.yaml").read_text()
    assert (work / "Dockerfile").read_text().startswith("ARG NODE=18\n")


def test_commit_on_detached_head_needs_a_base(repo: dict[str, Any]) -> None:
    work = repo["work"]
    git("checkout", "--quiet", "--detach", "HEAD", cwd=work)
    proc = cli("update", ".", "--commit", "--cache-dir", repo["cache"], cwd=work)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "HEAD is detached" in proc.stderr and "--base" in proc.stderr
    assert "could not read HEAD" not in proc.stderr


def test_commit_on_detached_head_uses_the_ci_base_and_the_repo_user(
    repo: dict[str, Any],
) -> None:
    work, ns = repo["work"], repo["ns"]
    git("checkout", "--quiet", "--detach", "HEAD", cwd=work)
    proc = cli(
        "update",
        ".",
        "--commit",
        "--group",
        "all",
        "--cache-dir",
        repo["cache"],
        cwd=work,
        env={"GITHUB_BASE_REF": "main"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = git("log", "-1", "--format=%an <%ae>|%cn", "patchwarden/all", cwd=work)
    assert log.strip() == "Repo User <repo.user@example.org>|Repo User"
    assert git("rev-parse", "patchwarden/all~1", cwd=work) == git("rev-parse", "main", cwd=work)
    shown = git("show", "patchwarden/all:Dockerfile", cwd=work)
    assert shown.startswith("ARG NODE=20\n") and f"{ns}/node:${{NODE}}-alpine" in shown


def test_git_author_in_config_overrides_the_author(repo: dict[str, Any]) -> None:
    work = repo["work"]
    (work / "patchwarden.yaml").write_text("git:\n  author: Release Bot <bot@example.org>\n")
    proc = cli("update", ".", "--commit", "--group", "all", "--cache-dir", repo["cache"], cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = git("log", "-1", "--format=%an <%ae>|%cn", "patchwarden/all", cwd=work)
    assert log.strip() == "Release Bot <bot@example.org>|Repo User"
