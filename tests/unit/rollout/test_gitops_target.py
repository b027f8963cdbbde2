"""The GitOps target on real git repositories: minimal edit, compare-and-swap of the branch,
push, and a refused checked-out branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.app.rollout.gitops_target import GitOpsEnv, Pinned
from patchwarden.apply.git import GitError
from patchwarden.config.rollout import GitOpsTarget
from patchwarden.core.ref import parse_reference
from testkit.gitrepo import git

DIGEST = "sha256:" + "b" * 64
COMPOSE = "services:\n  web:\n    image: registry.example.com/shop/web:1.4  # pinned by ops\n"


@pytest.fixture()
def clone(tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    work = tmp_path / "clone"
    git("clone", "--quiet", str(origin), str(work), cwd=tmp_path)
    (work / "compose.yaml").write_text(COMPOSE)
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "init", cwd=work)
    git("branch", "deploy", cwd=work)
    git("push", "--quiet", "origin", "main", "deploy", cwd=work)
    return work


def test_commit_on_a_branch_not_checked_out_and_push(clone: Path) -> None:
    image = parse_reference("registry.example.com/shop/web")
    g = GitOpsEnv(GitOpsTarget(repo=str(clone), files=["compose.yaml"], branch="deploy", push=True))
    (before,) = g.pinned(image)
    assert (before.tag, before.digest) == ("1.4", None)
    new = g.write(image, {("compose.yaml", 0): Pinned("compose.yaml", 0, "1.4", DIGEST)}, "pin")
    text = git("show", "deploy:compose.yaml", cwd=clone) + "\n"
    assert text == COMPOSE.replace("web:1.4", f"web:1.4@{DIGEST}"), "one reference edited"
    assert (clone / "compose.yaml").read_text() == COMPOSE, "the checkout is not touched"
    assert git("rev-parse", "deploy", cwd=clone.parent / "origin.git") == new, "pushed"
    (after,) = g.pinned(image)
    assert after.digest == DIGEST


def test_the_checked_out_branch_is_refused(clone: Path) -> None:
    image = parse_reference("registry.example.com/shop/web")
    g = GitOpsEnv(GitOpsTarget(repo=str(clone), files=["compose.yaml"]))  # main, checked out
    with pytest.raises(GitError, match="checked out"):
        g.write(image, {("compose.yaml", 0): Pinned("compose.yaml", 0, "1.4", DIGEST)}, "pin")
