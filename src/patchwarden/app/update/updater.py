"""The ``update`` use case: rewrite files, or commit per group on branches, push, open PRs."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.app.update.action import UpdateAction
from patchwarden.app.update.plan import BRANCH_PREFIX, Group, Move, commit_message
from patchwarden.app.update.pr_body import ImageFacts, render
from patchwarden.apply.forge.model import Forge
from patchwarden.apply.git import Repo
from patchwarden.apply.rewrite import FileChange, prepare, write_group
from patchwarden.cache.registry import CachingRegistry
from patchwarden.errors import PatchwardenError
from patchwarden.registry.model import Platform


@dataclass(frozen=True, slots=True)
class Outcome:
    group: Group
    action: UpdateAction
    diff: str = ""
    body: str = ""
    commit: str | None = None
    pushed: bool = False
    pull_request: str | None = None
    error: str | None = None
    # (file, reason): references of the group left out of its commit (a file untracked in or
    # edited against the base); the rest of the group is still committed
    left_out: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    dry_run: bool = False
    commit: bool = False
    push: bool = False
    remote: str = "origin"
    base: str | None = None  # default: the current branch
    pull_request: bool = False
    prune: bool = False  # delete superseded update branches (after closing their PRs)


FactsLookup = Callable[[Group], dict[str, ImageFacts]]


class Updater:
    def __init__(
        self,
        scan_root: Path,
        options: UpdateOptions,
        *,
        facts: FactsLookup | None = None,
        forge: Forge | None = None,
        now: datetime | None = None,
    ) -> None:
        self.scan_root = scan_root.resolve()
        self.opt = options
        self.facts = facts or (lambda g: {})
        self.forge = forge
        self.now = now or datetime.now(UTC)
        self.stale: list[tuple[str, str]] = []

    def run(self, groups: Sequence[Group]) -> list[Outcome]:
        if self.opt.dry_run:
            return [self._dry_run(g) for g in groups]
        if not self.opt.commit:
            return self._write_in_place(groups)
        repo = Repo.discover(self.scan_root)
        base = self.opt.base or repo.current_branch()
        if base is None:
            raise PatchwardenError(
                "HEAD is detached: there is no branch to base the updates on",
                "pass --base BRANCH",
            )
        outcomes = [self._commit_group(repo, base, g) for g in groups]
        self.stale = self._stale_branches(repo, base, {g.branch for g in groups})
        return outcomes

    def _stale_branches(self, repo: Repo, base: str, current: set[str]) -> list[tuple[str, str]]:
        """Update branches with nothing left to do: merged ones are deleted (locally, and on
        the remote with --push); unmerged ones are superseded: their PR is closed, and the
        branch is kept for the record, or deleted the same way with ``prune``."""
        out: list[tuple[str, str]] = []
        base_commit = repo.rev(base)
        for branch in repo.branches(BRANCH_PREFIX):
            if branch in current or base_commit is None:
                continue
            tip = repo.rev(f"refs/heads/{branch}")
            if tip is not None and repo.is_ancestor(tip, base_commit):
                repo.delete_branch(branch)
                if self.opt.push and repo.remote_branch(self.opt.remote, branch) == tip:
                    repo.delete_remote_branch(self.opt.remote, branch)
                self._close_pr(branch, "The base branch already contains this update.")
                out.append((branch, "merged: deleted"))
                continue
            self._close_pr(branch, "Superseded: the base branch no longer needs this update.")
            if not self.opt.prune:
                out.append((branch, "superseded: kept (--prune deletes it)"))
                continue
            repo.delete_branch(branch)
            if self.opt.push and repo.remote_branch(self.opt.remote, branch) == tip:
                repo.delete_remote_branch(self.opt.remote, branch)
            out.append((branch, "superseded: deleted"))
        return out

    def _close_pr(self, branch: str, comment: str) -> None:
        if self.opt.pull_request and self.forge is not None:
            pr = self.forge.find_open(branch)
            if pr is not None:
                self.forge.close(pr, comment)

    def _body(self, group: Group) -> str:
        return render(group, self.facts(group), self.now)

    def _dry_run(self, group: Group) -> Outcome:
        try:
            files = prepare(self.scan_root, [m.change for m in group.moves])
        except PatchwardenError as exc:
            return Outcome(group, UpdateAction.FAILED, error=str(exc))
        return Outcome(group, UpdateAction.DRY_RUN, diff=_diff(files), body=self._body(group))

    def _write_in_place(self, groups: Sequence[Group]) -> list[Outcome]:
        changes = [m.change for g in groups for m in g.moves]
        files = prepare(self.scan_root, changes)  # all or nothing
        write_group(files)
        return [
            Outcome(g, UpdateAction.WRITTEN, diff=_diff(files) if i == 0 else "")
            for i, g in enumerate(groups)
        ]

    def _commit_group(self, repo: Repo, base: str, group: Group) -> Outcome:
        try:
            return self._commit_group_or_raise(repo, base, group)
        except PatchwardenError as exc:
            return Outcome(group, UpdateAction.FAILED, error=str(exc))

    def _commit_group_or_raise(self, repo: Repo, base: str, group: Group) -> Outcome:
        rel = self.scan_root.relative_to(repo.root)
        existing = repo.rev(f"refs/heads/{group.branch}")
        with repo.worktree(base) as wt:
            files, group, left_out = _prepare_each_file(wt, wt / rel, group, base)
            if not group.moves:
                return Outcome(
                    group,
                    UpdateAction.FAILED,
                    error="; ".join(f"{f}: {why}" for f, why in left_out),
                    left_out=left_out,
                )
            if not files:
                return self._already_merged(repo, group, existing)
            body = self._body(group)
            write_group(files)
            paths = [str((rel / f.rel).as_posix()) for f in files]
            commit = repo.commit_all(wt, commit_message(group), paths)
            base_commit = repo.rev(base)
            unchanged = (
                existing is not None
                and repo.tree(existing) == repo.tree(commit)
                and base_commit is not None
                and repo.is_ancestor(base_commit, existing)
            )
            if not unchanged:
                repo.set_branch(group.branch, commit)
        tip = existing if unchanged else commit
        pushed = self._push(repo, group) if self.opt.push else False
        pr = self._pull_request(group, base, body) if self.opt.pull_request else None
        if unchanged:
            action = UpdateAction.UNCHANGED
        else:
            action = UpdateAction.UPDATED if existing else UpdateAction.COMMITTED
        return Outcome(
            group,
            action,
            diff=_diff(files),
            body=body,
            commit=tip,
            pushed=pushed,
            pull_request=pr,
            left_out=left_out,
        )

    def _already_merged(self, repo: Repo, group: Group, existing: str | None) -> Outcome:
        """The base already has these versions: the branch (if any) is merged or superseded."""
        self._close_pr(group.branch, "The base branch already has these image versions.")
        if existing is not None:
            with contextlib.suppress(PatchwardenError):
                repo.delete_branch(group.branch)
        return Outcome(group, UpdateAction.MERGED)

    def _push(self, repo: Repo, group: Group) -> bool:
        remote_tip = repo.remote_branch(self.opt.remote, group.branch)
        local_tip = repo.rev(f"refs/heads/{group.branch}")
        if remote_tip == local_tip:
            return False
        repo.push(self.opt.remote, group.branch, remote_tip)
        return True

    def _pull_request(self, group: Group, base: str, body: str) -> str | None:
        if self.forge is None:
            return None
        pr = self.forge.find_open(group.branch)
        if pr is None:
            pr = self.forge.create(group.branch, base, group.title, body)
        elif pr.title != group.title or pr.body != body:
            pr = self.forge.update(pr, group.title, body)
        return pr.url


def _prepare_each_file(
    wt: Path, root: Path, group: Group, base: str
) -> tuple[list[FileChange], Group, tuple[tuple[str, str], ...]]:
    """Prepare the group file by file in the worktree at ``base``: a file that is not in the
    base (untracked) or whose base text does not match the checkout (local edits) is left
    out with the reason, and the rest is committed. Reasons never name the temp worktree."""
    by_file: dict[str, list[Move]] = {}
    for m in group.moves:
        by_file.setdefault(m.change.reference.file, []).append(m)
    files: list[FileChange] = []
    kept: list[Move] = []
    left_out: list[tuple[str, str]] = []
    for name, moves in sorted(by_file.items()):
        if not (root / name).is_file():
            left_out.append((name, f"not in {base} (untracked or uncommitted); commit it first"))
            continue
        try:
            files.extend(prepare(root, [m.change for m in moves]))
        except PatchwardenError as exc:
            why = str(exc).replace(f"{wt}/", "").replace(str(wt), ".")
            left_out.append((name, f"differs from {base} (local edits?): {why}"))
            continue
        kept.extend(moves)
    return files, replace(group, moves=tuple(kept)), tuple(left_out)


def _diff(files: Sequence[FileChange]) -> str:
    return "".join(f.diff() for f in files)


def registry_facts(registry: CachingRegistry, platform: Platform) -> FactsLookup:
    """Image age and source links for the PR body, from each candidate's image config."""

    def lookup(group: Group) -> dict[str, ImageFacts]:
        out: dict[str, ImageFacts] = {}
        for m in group.moves:
            target = m.change.target
            image = m.change.reference.ref.with_tag(target.tag)
            key = f"{image.name}:{target.tag}"
            if key in out:
                continue
            try:
                cfg = registry.image_config(image, platform)
            except PatchwardenError:
                continue  # the table says "unknown" rather than failing the update
            out[key] = ImageFacts(
                created=cfg.created,
                source=cfg.labels.get("org.opencontainers.image.source"),
                version=cfg.labels.get("org.opencontainers.image.version"),
            )
        return out

    return lookup
