"""The ``update`` use case: rewrite files, or commit per group on branches, push, open PRs."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from patchwarden.app.effects import EffectGuard
from patchwarden.app.update.action import UpdateAction
from patchwarden.app.update.plan import BRANCH_PREFIX, Group, Move, commit_message
from patchwarden.app.update.pr_body import ImageFacts, render
from patchwarden.apply.forge.model import Forge
from patchwarden.apply.git import Repo
from patchwarden.apply.rewrite import FileChange, SkippedChange, prepare_partial, write_group
from patchwarden.cache.registry import CachingRegistry
from patchwarden.errors import PatchwardenError, UsageError
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
    # references of this group that could not be written, with the reason; the others were
    skipped: tuple[SkippedChange, ...] = ()
    # (file, reason): files of the group left out of its commit (untracked in, or edited
    # against, the base); the rest of the group is still committed
    left_out: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateOptions:
    dry_run: bool = False
    commit: bool = False
    push: bool = False
    remote: str = "origin"
    base: str | None = None  # default: the current branch, else the CI's base branch
    pull_request: bool = False
    prune: bool = False  # delete superseded update branches (after closing their PRs)
    author: str | None = None  # "Name <email>" (git.author); default: the repo's git user


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
        effects: EffectGuard | None = None,
    ) -> None:
        """``effects``: pushes and pull requests are carried out once per branch and commit
        through it (``serve``'s update job: a retried or re-delivered job repeats neither)."""
        self.scan_root = scan_root.resolve()
        self.opt = options
        self.facts = facts or (lambda g: {})
        self.forge = forge
        self.effects = effects
        self._where = ""  # the remote, hashed: effect keys never hold a URL's credentials
        self.now = now or datetime.now(UTC)
        self.stale: list[tuple[str, str]] = []
        self.base_name = options.base or ""

    def run(self, groups: Sequence[Group]) -> list[Outcome]:
        if self.opt.dry_run:
            return [self._dry_run(g) for g in groups]
        if not self.opt.commit:
            return self._write_in_place(groups)
        repo = Repo.discover(self.scan_root)
        self.base_name, base = resolve_base(repo, self.opt.base, self.opt.remote, os.environ)
        if self.effects is not None and (self.opt.push or self.opt.pull_request):
            url = repo.git("remote", "get-url", self.opt.remote, what="read the remote's URL")
            self._where = hashlib.sha256(url.strip().encode()).hexdigest()[:16]
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
            files, skipped = prepare_partial(self.scan_root, [m.change for m in group.moves])
        except PatchwardenError as exc:
            return Outcome(group, UpdateAction.FAILED, error=str(exc))
        written = _without(group, skipped)
        if not written.moves:
            return Outcome(group, UpdateAction.SKIPPED, skipped=tuple(skipped))
        return Outcome(
            group,
            UpdateAction.DRY_RUN,
            diff=_diff(files),
            body=self._body(written),
            skipped=tuple(skipped),
        )

    def _write_in_place(self, groups: Sequence[Group]) -> list[Outcome]:
        changes = [m.change for g in groups for m in g.moves]
        files, skipped = prepare_partial(self.scan_root, changes)  # all files, or none
        write_group(files)
        out = []
        diff = _diff(files)
        for g in groups:
            mine = tuple(s for s in skipped if any(s.change is m.change for m in g.moves))
            skip = len(mine) == len(g.moves)
            action = UpdateAction.SKIPPED if skip else UpdateAction.WRITTEN
            out.append(Outcome(g, action, diff="" if skip else diff, skipped=mine))
            if not skip:
                diff = ""  # the whole diff is shown once, with the first group written
        return out

    def _commit_group(self, repo: Repo, base: str, group: Group) -> Outcome:
        try:
            return self._commit_group_or_raise(repo, base, group)
        except PatchwardenError as exc:
            return Outcome(group, UpdateAction.FAILED, error=str(exc))

    def _commit_group_or_raise(self, repo: Repo, base: str, group: Group) -> Outcome:
        rel = self.scan_root.relative_to(repo.root)
        existing = repo.rev(f"refs/heads/{group.branch}")
        with repo.worktree(base) as wt:
            files, group, left_out, skipped = _prepare_each_file(
                wt / rel, self.scan_root, group, base
            )
            if not group.moves:
                return Outcome(
                    group,
                    UpdateAction.FAILED,
                    error="; ".join(f"{f}: {why}" for f, why in left_out),
                    left_out=left_out,
                )
            if not files:
                if skipped:
                    return Outcome(
                        group, UpdateAction.SKIPPED, skipped=tuple(skipped), left_out=left_out
                    )
                return self._already_merged(repo, group, existing)
            written = _without(group, skipped)
            body = self._body(written)
            write_group(files)
            paths = [str((rel / f.rel).as_posix()) for f in files]
            commit = repo.commit_all(wt, commit_message(written), paths, author=self.opt.author)
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
        pushed = self._push(repo, group, tip) if self.opt.push else False
        pr = self._pull_request(group, self.base_name, body, tip) if self.opt.pull_request else None
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
            skipped=tuple(skipped),
            left_out=left_out,
        )

    def _already_merged(self, repo: Repo, group: Group, existing: str | None) -> Outcome:
        """The base already has these versions: the branch (if any) is merged or superseded."""
        self._close_pr(group.branch, "The base branch already has these image versions.")
        if existing is not None:
            with contextlib.suppress(PatchwardenError):
                repo.delete_branch(group.branch)
        return Outcome(group, UpdateAction.MERGED)

    def _push(self, repo: Repo, group: Group, tip: str | None) -> bool:
        def push() -> str:
            remote_tip = repo.remote_branch(self.opt.remote, group.branch)
            local_tip = repo.rev(f"refs/heads/{group.branch}")
            if remote_tip == local_tip:
                return ""
            repo.push(self.opt.remote, group.branch, remote_tip)
            return "pushed"

        if self.effects is None or tip is None:
            return push() == "pushed"
        key = f"git-push:{self._where}:{group.branch}@{tip}"
        ran, result = self.effects.once(
            key, "git-push", push, lambda: repo.remote_branch(self.opt.remote, group.branch) == tip
        )
        return ran and result == "pushed"

    def _pull_request(self, group: Group, base: str, body: str, tip: str | None) -> str | None:
        forge = self.forge
        if forge is None:
            return None

        def open_or_refresh() -> str:
            pr = forge.find_open(group.branch)
            if pr is None:
                pr = forge.create(group.branch, base, group.title, body)
            elif pr.title != group.title or pr.body != body:
                pr = forge.update(pr, group.title, body)
            return pr.url

        if self.effects is None or tip is None:
            return open_or_refresh()
        found: list[str] = []

        def already() -> bool:  # an attempt that was cut off: did its pull request open?
            pr = forge.find_open(group.branch)
            found.extend([pr.url] if pr is not None else [])
            return pr is not None

        key = f"pull-request:{self._where}:{group.branch}@{tip}"
        _, url = self.effects.once(key, "pull-request", open_or_refresh, already)
        return found[0] if found else url


BASE_ENV = ("GITHUB_BASE_REF", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "CI_DEFAULT_BRANCH")


def resolve_base(
    repo: Repo, explicit: str | None, remote: str, env: Mapping[str, str]
) -> tuple[str, str]:
    """(branch name for pull requests, git revision to start from) of the update branches.

    ``--base``, else the checked-out branch, else on a detached HEAD (CI checkouts) the CI's
    base branch (``GITHUB_BASE_REF``, ``CI_MERGE_REQUEST_TARGET_BRANCH_NAME``,
    ``CI_DEFAULT_BRANCH``). The branch may exist only as ``<remote>/<branch>`` (a CI clone)."""
    name = explicit or repo.current_branch()
    if name is None:
        name = next((env[v] for v in BASE_ENV if env.get(v)), None)
    if name is None:
        raise UsageError(
            "HEAD is detached and no base branch is known: there is no branch to base the "
            "updates on",
            "pass --base BRANCH (in CI, GITHUB_BASE_REF or CI_DEFAULT_BRANCH is used when set)",
        )
    for candidate in (f"refs/heads/{name}", f"refs/remotes/{remote}/{name}", name):
        if repo.rev(candidate) is not None:
            return name, candidate
    raise UsageError(
        f"base branch {name!r} exists neither locally nor as {remote}/{name}",
        f"fetch it first: git fetch {remote} {name}",
    )


def _without(group: Group, skipped: Sequence[SkippedChange]) -> Group:
    """``group`` less the moves that could not be written."""
    moves = tuple(m for m in group.moves if not any(s.change is m.change for s in skipped))
    return replace(group, moves=moves)


def _prepare_each_file(
    base_root: Path, checkout: Path, group: Group, base: str
) -> tuple[list[FileChange], Group, tuple[tuple[str, str], ...], list[SkippedChange]]:
    """Prepare the group file by file in the worktree at ``base`` (``base_root``): a file
    that is not in the base (untracked) or whose base text differs from the ``checkout``
    (local edits that move the references) is left out with the reason; in the others, a
    reference that cannot be written is skipped with its reason. The rest is committed.
    Reasons never name the temporary worktree."""
    by_file: dict[str, list[Move]] = {}
    for m in group.moves:
        by_file.setdefault(m.change.reference.file, []).append(m)
    files: list[FileChange] = []
    kept: list[Move] = []
    left_out: list[tuple[str, str]] = []
    skipped: list[SkippedChange] = []
    for name, moves in sorted(by_file.items()):
        in_base = base_root / name
        if not in_base.is_file():
            left_out.append((name, f"not in {base} (untracked or uncommitted); commit it first"))
            continue
        changed, dropped = prepare_partial(base_root, [m.change for m in moves])
        if dropped and _edited(in_base, checkout / name):
            # the references were found in the checkout's text: a local edit moved them
            why = "; ".join(d.reason for d in dropped).replace(str(base_root), ".")
            left_out.append((name, f"differs from {base} (local edits?): {why}"))
            continue
        files.extend(changed)
        skipped.extend(dropped)
        kept.extend(moves)
    return files, replace(group, moves=tuple(kept)), tuple(left_out), skipped


def _edited(in_base: Path, in_checkout: Path) -> bool:
    try:
        return in_base.read_bytes() != in_checkout.read_bytes()
    except OSError:
        return True


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
