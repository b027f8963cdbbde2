"""The GitOps target on real git repositories: minimal edit, compare-and-swap of the branch,
push, and a refused checked-out branch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from patchwarden.app.rollout.gitops_target import GitOpsEnv, Pinned
from patchwarden.apply.git import GitError
from patchwarden.config.rollout import GitOpsTarget
from patchwarden.core.ref import parse_reference

DIGEST = "sha256:" + "b" * 64
COMPOSE = "services:\n  web:\n    image: registry.example.com/shop/web:1.4  # pinned by ops\n"


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture()
def clone(tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    _git("init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    work = tmp_path / "clone"
    _git("clone", "--quiet", str(origin), str(work), cwd=tmp_path)
    (work / "compose.yaml").write_text(COMPOSE)
    _git("add", ".", cwd=work)
    _git("commit", "--quiet", "-m", "init", cwd=work)
    _git("branch", "deploy", cwd=work)
    _git("push", "--quiet", "origin", "main", "deploy", cwd=work)
    return work


def test_commit_on_a_branch_not_checked_out_and_push(clone: Path) -> None:
    image = parse_reference("registry.example.com/shop/web")
    g = GitOpsEnv(GitOpsTarget(repo=str(clone), files=["compose.yaml"], branch="deploy", push=True))
    (before,) = g.pinned(image)
    assert (before.tag, before.digest) == ("1.4", None)
    new = g.write(image, {("compose.yaml", 0): Pinned("compose.yaml", 0, "1.4", DIGEST)}, "pin")
    text = _git("show", "deploy:compose.yaml", cwd=clone) + "\n"
    assert text == COMPOSE.replace("web:1.4", f"web:1.4@{DIGEST}"), "one reference edited"
    assert (clone / "compose.yaml").read_text() == COMPOSE, "the checkout is not touched"
    assert _git("rev-parse", "deploy", cwd=clone.parent / "origin.git") == new, "pushed"
    (after,) = g.pinned(image)
    assert after.digest == DIGEST


def test_the_checked_out_branch_is_refused(clone: Path) -> None:
    image = parse_reference("registry.example.com/shop/web")
    g = GitOpsEnv(GitOpsTarget(repo=str(clone), files=["compose.yaml"]))  # main, checked out
    with pytest.raises(GitError, match="checked out"):
        g.write(image, {("compose.yaml", 0): Pinned("compose.yaml", 0, "1.4", DIGEST)}, "pin")
