"""Real git repositories for tests: a bare repository (a remote, or a GitOps source) with a
clone whose ``origin`` it is, and ``git`` with a fixed identity."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()


def repo_with(tmp: Path, name: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A bare repository holding ``files`` on main, and a clone of it: (bare, clone)."""
    bare = tmp / f"{name}.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare), cwd=tmp)
    work = tmp / name
    git("clone", "--quiet", str(bare), str(work), cwd=tmp)
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git("add", ".", cwd=work)
    git("commit", "--quiet", "-m", "initial", cwd=work)
    git("push", "--quiet", "origin", "main", cwd=work)
    git("config", "user.name", "rebuild test", cwd=work)
    git("config", "user.email", "rebuild@localhost", cwd=work)
    return bare, work
