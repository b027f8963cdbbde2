"""The git operations ``update --commit/--push`` needs, through the ``git`` command.

The git CLI is the one interface every git host, credential helper and hook setup already
works with (Renovate drives it the same way); a library binding would add a second notion of
config and credentials. Every update branch is prepared in a temporary worktree, so the user's
checkout, index and uncommitted work are never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from patchwarden.errors import ExitCode, PatchwardenError
from patchwarden.net.redact import redact_text

GIT_TIMEOUT = 120
FALLBACK_NAME = "patchwarden"
FALLBACK_EMAIL = "patchwarden@localhost"


class GitError(PatchwardenError):
    """A git command failed; the message has git's own words (with no credentials)."""


@dataclass(frozen=True, slots=True)
class Repo:
    root: Path

    @classmethod
    def discover(cls, path: Path) -> Repo:
        start = path if path.is_dir() else path.parent
        try:
            out = run_git(
                ["rev-parse", "--show-toplevel"], cwd=start, what="find the git repository"
            )
        except GitError as exc:
            if "not a git repository" not in exc.message:
                raise
            raise GitError(
                f"{path} is not inside a git repository",
                "run update from a git checkout, or drop --commit/--push/--pull-request to "
                "write the files in place",
                exit_code=ExitCode.USAGE,
            ) from exc
        return cls(Path(out.strip()))

    def git(
        self, *args: str, what: str = "", cwd: Path | None = None, stdin: str | None = None
    ) -> str:
        return run_git(list(args), cwd=cwd or self.root, what=what, stdin=stdin)

    def current_branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD (every CI checkout of a PR)."""
        try:
            out = self.git("symbolic-ref", "--quiet", "--short", "HEAD", what="read HEAD")
        except GitError:
            return None  # exit 1 with no output: HEAD is detached
        return out.strip() or None

    def config(self, key: str) -> str | None:
        try:
            return self.git("config", "--get", key).strip() or None
        except GitError:
            return None

    def rev(self, ref: str) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip() or None
        except GitError:
            return None

    def tree(self, ref: str) -> str:
        return self.git("rev-parse", f"{ref}^{{tree}}").strip()

    def is_ancestor(self, a: str, b: str) -> bool:
        try:
            self.git("merge-base", "--is-ancestor", a, b)
            return True
        except GitError:
            return False

    @contextmanager
    def worktree(self, base: str) -> Iterator[Path]:
        """A detached temporary worktree at ``base``; removed afterwards, whatever happens.

        A run killed before its cleanup leaves ``patchwarden-wt-*`` behind: those whose owner
        process is gone are removed first (:func:`prune_stale_worktrees`)."""
        prune_stale_worktrees(self)
        tmp = Path(tempfile.mkdtemp(prefix=WORKTREE_PREFIX))
        (tmp / OWNER_FILE).write_text(f"{os.getpid()} {_boot_id()}\n")
        path = tmp / "wt"
        self.git("worktree", "add", "--detach", "--quiet", str(path), base, what="add a worktree")
        try:
            yield path
        finally:
            with contextlib.suppress(GitError):
                self.git("worktree", "remove", "--force", str(path))
            shutil.rmtree(tmp, ignore_errors=True)
            self.git("worktree", "prune")

    def commit_all(
        self, worktree: Path, message: str, paths: Sequence[str], *, author: str | None = None
    ) -> str:
        """Commit as the repository's git user (``user.name``/``user.email``, or
        ``GIT_AUTHOR_*``/``GIT_COMMITTER_*`` in the environment, as git itself decides);
        ``author`` ("Name <email>", from ``git.author``) overrides the author only. With no
        identity configured at all, ``patchwarden <patchwarden@localhost>`` is used. Paths and
        message go on stdin: thousands of references must not hit the argv limit."""
        self.git(
            "add",
            "--pathspec-from-file=-",
            "--pathspec-file-nul",
            cwd=worktree,
            what="stage the rewritten files",
            stdin="\0".join(paths),
        )
        identity: list[str] = []
        if self.config("user.name") is None and "GIT_COMMITTER_NAME" not in os.environ:
            identity += ["-c", f"user.name={FALLBACK_NAME}"]
        if self.config("user.email") is None and "GIT_COMMITTER_EMAIL" not in os.environ:
            identity += ["-c", f"user.email={FALLBACK_EMAIL}"]
        self.git(
            *identity,
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "--no-verify",
            *([f"--author={author}"] if author else []),
            "--file=-",
            cwd=worktree,
            what="commit the update",
            stdin=message,
        )
        return self.git("rev-parse", "HEAD", cwd=worktree).strip()

    def set_branch(self, name: str, commit: str) -> None:
        self.git("branch", "--force", name, commit, what=f"point branch {name} at the update")

    def branches(self, prefix: str) -> list[str]:
        out = self.git("for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}")
        return [line for line in out.splitlines() if line]

    def delete_branch(self, name: str) -> None:
        self.git("branch", "--delete", "--force", name, what=f"delete branch {name}")

    def push(self, remote: str, branch: str, expect: str | None) -> None:
        """Push ``branch``; ``expect`` is the remote commit we last saw (lease), None if new."""
        lease = f"--force-with-lease=refs/heads/{branch}:{expect or ''}"
        self.git(
            "push",
            "--quiet",
            "--porcelain",
            lease,
            remote,
            f"refs/heads/{branch}:refs/heads/{branch}",
            what=f"push {branch} to {remote}",
        )

    def remote_branch(self, remote: str, branch: str) -> str | None:
        out = self.git("ls-remote", "--heads", remote, f"refs/heads/{branch}", what=f"ask {remote}")
        return out.split()[0] if out.strip() else None

    def delete_remote_branch(self, remote: str, branch: str) -> None:
        self.git(
            "push", "--quiet", remote, f":refs/heads/{branch}", what=f"delete {branch} on {remote}"
        )

    def fetch(self, remote: str, branch: str) -> None:
        self.git(
            "fetch",
            "--quiet",
            remote,
            f"refs/heads/{branch}:refs/remotes/{remote}/{branch}",
            what=f"fetch {branch} from {remote}",
        )


WORKTREE_PREFIX = "patchwarden-wt-"
OWNER_FILE = "owner"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "-"


def _owner_alive(tmp: Path) -> bool:
    try:
        pid_text, _, boot = (tmp / OWNER_FILE).read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        # no owner file: an older version, or a run killed right at creation; keep it for
        # an hour in case a live run is just starting
        try:
            return time.time() - tmp.stat().st_mtime < 3600
        except OSError:
            return False
    if boot != _boot_id():
        return False  # the machine rebooted since: nobody owns it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_stale_worktrees(repo: Repo | None = None) -> list[Path]:
    """Remove ``patchwarden-wt-*`` temp directories whose owner process is gone; return them."""
    removed: list[Path] = []
    root = Path(tempfile.gettempdir())
    try:
        candidates = sorted(root.glob(f"{WORKTREE_PREFIX}*"))
    except OSError:
        return removed
    for tmp in candidates:
        if not tmp.is_dir() or tmp.is_symlink() or _owner_alive(tmp):
            continue
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
    if removed and repo is not None:
        with contextlib.suppress(GitError):
            repo.git("worktree", "prune")
    return removed


def run_git(args: list[str], *, cwd: Path, what: str = "", stdin: str | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    if shutil.which("git") is None:
        raise GitError("git is not installed", "install git (Debian: apt-get install git)")
    try:
        proc = subprocess.run(  # noqa: S603 - argv list, no shell; arguments are refs and paths we built
            ["git", *args],  # noqa: S607 - git from PATH, as the user runs it
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise GitError(
            f"git {args[0]} timed out after {GIT_TIMEOUT}s" + (f" ({what})" if what else ""),
            transient=True,
        ) from None
    if proc.returncode != 0:
        detail = redact_text(proc.stderr.strip() or proc.stdout.strip())
        raise GitError(f"could not {what or 'run git ' + args[0]}: {detail}")
    return proc.stdout
