"""From ``check`` results to update groups: which references move, where, and on which branch."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from patchwarden.app.check.results import CheckResult, Status
from patchwarden.apply.edits import Target
from patchwarden.apply.rewrite import Change
from patchwarden.core.ref import ImageRef
from patchwarden.errors import PatchwardenError

BRANCH_PREFIX = "patchwarden/"


class Grouping(StrEnum):
    image = "image"  # one branch per image (repository)
    file = "file"  # one branch per file
    all = "all"  # one branch for everything


@dataclass(frozen=True, slots=True)
class Move:
    result: CheckResult
    change: Change

    @property
    def summary(self) -> str:
        r = self.result
        cur = r.current.tag or ""
        new = r.candidate.tag if r.candidate else ""
        pin = f"@{self.change.target.digest[:19]}" if self.change.target.digest else ""
        return f"{r.reference.ref.familiar_name} {cur} -> {new}{pin} ({r.update})"


@dataclass(frozen=True, slots=True)
class Group:
    key: str  # deterministic: the branch name without the prefix
    title: str
    moves: tuple[Move, ...]
    notes: tuple[str, ...] = field(default=())  # e.g. references that cannot be rewritten

    @property
    def branch(self) -> str:
        return BRANCH_PREFIX + self.key

    @property
    def files(self) -> list[str]:
        return sorted({m.change.reference.file for m in self.moves})


def target_for(result: CheckResult, pin_digest: bool) -> Target | None:
    """The tag/digest to write, or None when the file text would not change."""
    if result.status != Status.OUTDATED or result.candidate is None:
        return None
    ref = result.reference.ref
    pin = pin_digest or ref.digest is not None
    digest = result.candidate.digest if pin else None
    tag = result.candidate.tag
    if tag == ref.tag and (digest is None or digest == ref.digest):
        return None  # an unpinned floating tag moved: nothing to write unless pinning
    return Target(tag=tag, digest=digest)


def plan_groups(
    results: Sequence[CheckResult], grouping: Grouping, *, pin_digest: bool = False
) -> tuple[list[Group], list[str]]:
    """Groups of moves, and notes for outdated references that need no file change."""
    buckets: dict[str, list[Move]] = defaultdict(list)
    notes: list[str] = []
    for r in results:
        if r.status != Status.OUTDATED:
            continue
        target = target_for(r, pin_digest)
        ref = r.reference
        if target is None:
            notes.append(
                f"{ref.file}:{ref.line} {ref.ref.familiar}: the tag moved upstream; nothing to "
                "write (use --pin-digest to record digests)"
            )
            continue
        expected = ref.ref.with_tag(target.tag).with_digest(target.digest)
        move = Move(r, Change(ref, target, expected))
        buckets[_key(grouping, r)].append(move)
    groups = [
        Group(key, _title(grouping, moves), tuple(sorted(moves, key=_order)))
        for key, moves in sorted(buckets.items())
    ]
    return groups, notes


def verify_pins(
    groups: Sequence[Group], get_manifest: Callable[[ImageRef], object]
) -> tuple[list[Group], list[CheckResult]]:
    """Fetch the manifest of every digest about to be written and let the registry client check
    that it hashes to that digest (a HEAD answer is only the registry's word). A move whose
    digest cannot be verified is dropped and returned as an error result; groups left empty go.
    """
    failed: dict[str, str] = {}
    kept_groups: list[Group] = []
    errors: list[CheckResult] = []
    for g in groups:
        kept: list[Move] = []
        for m in g.moves:
            digest = m.change.target.digest
            if digest is None:
                kept.append(m)
                continue
            image = m.change.expected
            key = f"{image.registry}/{image.repository}@{digest}"
            if key not in failed:
                try:
                    get_manifest(image)
                    failed[key] = ""
                except PatchwardenError as exc:
                    failed[key] = exc.message
            if failed[key]:
                reason = f"not pinned: the digest {digest} could not be verified ({failed[key]})"
                errors.append(replace(m.result, status=Status.ERROR, reason=reason))
            else:
                kept.append(m)
        if kept:
            kept_groups.append(replace(g, moves=tuple(kept)))
    return kept_groups, errors


def _order(m: Move) -> tuple[str, int]:
    return (m.change.reference.file, m.change.reference.line)


def _key(grouping: Grouping, r: CheckResult) -> str:
    if grouping == Grouping.all:
        return "all"
    if grouping == Grouping.file:
        return "file-" + slug(r.reference.file)
    return slug(r.reference.ref.name)


def slug(text: str) -> str:
    """A git-ref-safe, readable, deterministic name: ``docker.io/library/nginx`` ->
    ``docker.io-library-nginx``."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    s = re.sub(r"\.{2,}", ".", s)
    return s.removesuffix(".lock") or "x"


def _title(grouping: Grouping, moves: Sequence[Move]) -> str:
    images = sorted({m.result.reference.ref.familiar_name for m in moves})
    if len(images) == 1:
        tags = sorted({m.change.target.tag or "" for m in moves})
        if len(tags) == 1 and tags[0]:
            return f"Update {images[0]} to {tags[0]}"
        return f"Update {images[0]}"
    if grouping == Grouping.file:
        return f"Update {len(images)} images in {moves[0].change.reference.file}"
    return f"Update {len(images)} container images"


def commit_message(group: Group) -> str:
    lines = [group.title, ""]
    for m in group.moves:
        ref = m.change.reference
        lines.append(f"- {ref.file}:{ref.line}: {m.summary}")
    fixed, introduced = cve_changes(group)
    if fixed:
        lines += ["", "Fixes: " + ", ".join(fixed)]
    if introduced:
        lines += ["", "Introduces: " + ", ".join(introduced)]
    lines += ["", "Generated by patchwarden."]
    return "\n".join(lines) + "\n"


def cve_changes(group: Group) -> tuple[list[str], list[str]]:
    """Vulnerability ids fixed and introduced by the group's moves (from check --vulns)."""
    fixed: set[str] = set()
    introduced: set[str] = set()
    for m in group.moves:
        a = m.result.vulns
        option = a.recommended if a is not None else None
        if option is None or m.change.target.tag != option.tag:
            continue
        fixed.update(f.id for f in option.fixed)
        introduced.update(f.id for f in option.introduced)
    return sorted(fixed), sorted(introduced)
