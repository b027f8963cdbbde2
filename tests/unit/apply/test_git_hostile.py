"""git plumbing under hostile sizes and after killed runs (real git repositories)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from patchwarden.apply.git import OWNER_FILE, WORKTREE_PREFIX, Repo, prune_stale_worktrees
from patchwarden.apply.rewrite import prune_stale_tmp


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    root = tmp_path / "repo"
    root.mkdir()
    _git("init", "--quiet", "-b", "main", cwd=root)
    (root / "Dockerfile").write_text("FROM nginx:1.25\n")
    _git("add", "Dockerfile", cwd=root)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init", cwd=root)
    return Repo(root)


def test_a_commit_message_over_the_argv_limit(repo: Repo) -> None:
    """~3,000 references give a message far over Linux's 128 KiB per-argument limit."""
    lines = [f"- services/s{i}/Dockerfile:1 nginx:1.25 -> 1.27 ({'x' * 80})" for i in range(3000)]
    message = "Update nginx to 1.27\n\n" + "\n".join(lines) + "\n"
    assert len(message.encode()) > 128 * 1024
    with repo.worktree("main") as wt:
        (wt / "Dockerfile").write_text("FROM nginx:1.27\n")
        commit = repo.commit_all(wt, message, ["Dockerfile"])
    body = _git("log", "-1", "--format=%B", commit, cwd=repo.root)
    assert body.strip() == message.strip()


def test_stale_worktrees_of_dead_runs_are_pruned(repo: Repo) -> None:
    tmp = Path(tempfile.gettempdir())
    dead = tmp / f"{WORKTREE_PREFIX}dead"
    (dead / "wt").mkdir(parents=True)
    proc = subprocess.Popen(["true"])
    proc.wait()  # a pid that no longer runs
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    (dead / OWNER_FILE).write_text(f"{proc.pid} {boot}\n")
    alive = tmp / f"{WORKTREE_PREFIX}alive"
    alive.mkdir()
    (alive / OWNER_FILE).write_text(f"{os.getpid()} {boot}\n")
    with repo.worktree("main") as wt:
        assert wt.is_dir()
        assert not dead.exists()  # pruned before the new one was made
        assert alive.exists()  # a live run's worktree is never touched
    assert sorted(p.name for p in tmp.iterdir()) == [f"{WORKTREE_PREFIX}alive"]
    assert prune_stale_worktrees() == []


def test_stale_atomic_write_temp_files_are_pruned(tmp_path: Path) -> None:
    from patchwarden.apply.rewrite import _atomic_write

    target = tmp_path / "Dockerfile"
    target.write_text("FROM nginx:1.25\n")
    old = tmp_path / ".Dockerfile.k1ll3d.tmp"
    old.write_text("half")
    past = time.time() - 3600
    os.utime(old, (past, past))
    fresh = tmp_path / ".Dockerfile.inflight.tmp"  # another run writing right now
    fresh.write_text("x")
    _atomic_write(target, "FROM nginx:1.27\n")
    assert not old.exists()
    assert fresh.exists()
    assert prune_stale_tmp(target) == []
