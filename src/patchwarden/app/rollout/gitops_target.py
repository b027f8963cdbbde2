"""A GitOps environment: the digest is pinned in files of a git repository by a commit.

The references to the rollout's repository in the configured files (a kustomize overlay, Helm
values, a compose file, manifests: whatever ``inventory`` reads) are rewritten with the same
minimal, re-parsed, atomic edits as ``update``, in a temporary worktree at the branch's head;
the commit becomes the branch with a compare-and-swap (``git update-ref NEW OLD``), so a
concurrent change is never overwritten, and the user's checkout is never touched. The branch
must not be checked out anywhere (use a bare repository, or a branch of its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from patchwarden.apply.edits import Target
from patchwarden.apply.git import GitError, Repo
from patchwarden.apply.rewrite import Change, prepare, write_group
from patchwarden.config.rollout import GitOpsTarget
from patchwarden.core.ref import ImageRef
from patchwarden.errors import UsageError
from patchwarden.refs.model import Reference
from patchwarden.refs.registry import SOURCES


@dataclass(frozen=True, slots=True)
class Pinned:
    file: str
    index: int  # among the repository's references in that file
    tag: str | None
    digest: str | None

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "index": self.index, "tag": self.tag, "digest": self.digest}


class GitOpsEnv:
    def __init__(self, cfg: GitOpsTarget) -> None:
        self.cfg = cfg
        self.repo = Repo(Path(cfg.repo).expanduser().resolve())

    def branch(self) -> str:
        if self.cfg.branch:
            return self.cfg.branch
        out = self.repo.git("symbolic-ref", "--quiet", "--short", "HEAD", what="read HEAD")
        return out.strip()

    def head(self) -> str:
        branch = self.branch()
        rev = self.repo.rev(f"refs/heads/{branch}")
        if rev is None:
            raise UsageError(f"{self.cfg.repo} has no branch {branch}", "check gitops.branch")
        return rev

    def pinned(self, image: ImageRef, commit: str | None = None) -> list[Pinned]:
        """The repository's references in the files at ``commit`` (default: the head)."""
        rev = commit or self.head()
        out: list[Pinned] = []
        for rel in self.cfg.files:
            text = self._show(rev, rel)
            for i, ref in enumerate(self._refs(rel, text, image)):
                out.append(Pinned(rel, i, ref.ref.tag, ref.ref.digest))
        return out

    def write(self, image: ImageRef, to: dict[tuple[str, int], Pinned], message: str) -> str:
        """Commit the references moved to ``to`` ((file, index) -> tag/digest); the new head."""
        branch = self.branch()
        self._not_checked_out(branch)
        old = self.head()
        with self.repo.worktree(old) as wt:
            changes = []
            for rel in self.cfg.files:
                text = (wt / rel).read_text(encoding="utf-8")
                for i, ref in enumerate(self._refs(rel, text, image)):
                    want = to.get((rel, i))
                    if want is None:
                        continue
                    target = Target(tag=want.tag, digest=want.digest, drop_digest=not want.digest)
                    expected = ref.ref.with_tag(want.tag).with_digest(want.digest)
                    changes.append(Change(ref, target, expected))
            files = prepare(wt, changes)
            if not files:
                return old
            write_group(files)
            new = self.repo.commit_all(wt, message, [f.rel for f in files])
        self._move(branch, new, old)
        return new

    def restore(self, base: str, ours: str, message: str) -> str | None:
        """Put the files back as they were at ``base`` when nobody changed them since our
        commit ``ours`` (byte for byte: a revert); None when someone did."""
        branch = self.branch()
        self._not_checked_out(branch)
        old = self.head()
        files = self.cfg.files
        if any(self._show(old, f) != self._show(ours, f) for f in files):
            return None
        with self.repo.worktree(old) as wt:
            self.repo.git("checkout", base, "--", *files, cwd=wt, what="restore the files")
            new = self.repo.commit_all(wt, message, list(files))
        self._move(branch, new, old)
        return new

    def _show(self, rev: str, rel: str) -> str:
        return self.repo.git("show", f"{rev}:{rel}", what=f"read {rel} at {rev[:12]}")

    def _move(self, branch: str, new: str, old: str) -> None:
        """``branch`` from ``old`` to ``new`` only if it is still at ``old``; pushed if asked."""
        self.repo.git(
            "update-ref", f"refs/heads/{branch}", new, old, what=f"move {branch} to the commit"
        )
        if self.cfg.push:
            self.repo.git(
                "push",
                "--quiet",
                "origin",
                f"refs/heads/{branch}:refs/heads/{branch}",
                what=f"push {branch}",
            )

    def _refs(self, rel: str, text: str, image: ImageRef) -> list[Reference]:
        path = self.repo.root / rel
        source = next((s for s in SOURCES if s.claims(path, text)), None)
        if source is None:
            raise UsageError(
                f"gitops: {rel} is not a file patchwarden reads image references from",
                "name kustomization, Helm values, compose, Kubernetes or Dockerfile files",
            )
        found = source.extract(rel, text, path=path)
        return [r for r in found if isinstance(r, Reference) and r.ref.name == image.name]

    def _not_checked_out(self, branch: str) -> None:
        listing = self.repo.git("worktree", "list", "--porcelain", what="list worktrees")
        if f"branch refs/heads/{branch}" in listing.splitlines():
            raise GitError(
                f"gitops: branch {branch} is checked out in a worktree of {self.cfg.repo}",
                "point gitops.repo at a bare repository or a clone of its own, or use another "
                "gitops.branch: patchwarden commits without touching anybody's checkout",
            )
