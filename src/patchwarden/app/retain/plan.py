"""``registry retain``: which manifests of a repository to delete, and why each survivor stays.

A version is a manifest digest with its tags. Kept: the newest ``keep_last`` versions, those
created within ``keep_days``, those with a tag matching ``keep_tags``, and every protected
digest (deployed: referenced in files, running on an engine, a rollback version in the state
store). Everything else is deleted through the distribution API, with its cosign signature
manifests; the registry's garbage collection then reclaims the blobs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from patchwarden.app.retain.tags import TagInfo, is_artifact_tag
from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError, RegistryError, UsageError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.writer import RegistryWriter
from patchwarden.trust.simple_signing import cosign_tag

GC_HINT = (
    "deleted manifests are unreachable now; to reclaim their storage run the registry's "
    "garbage collection with the registry read-only or stopped, e.g. "
    "`docker-registry garbage-collect /etc/docker/registry/config.yml` (CNCF distribution; "
    "without its delete-untagged option: distribution 2.x deletes the platform manifests of "
    "multi-arch indexes with it)"
)


@dataclass(frozen=True)
class RetainRules:
    keep_last: int
    keep_days: float | None = None
    keep_tags: str | None = None

    def __post_init__(self) -> None:
        if self.keep_last < 0:
            raise UsageError(f"--keep-last must be 0 or more, not {self.keep_last}")
        if self.keep_days is not None and self.keep_days < 0:
            raise UsageError(f"--keep-days must be 0 or more, not {self.keep_days}")
        if self.keep_tags is not None:
            try:
                re.compile(self.keep_tags)
            except re.error as exc:
                raise UsageError(f"--keep-tags {self.keep_tags!r} is not a regex: {exc}") from None


@dataclass
class Version:
    digest: str
    tags: list[str]
    created: datetime | None
    keep: list[str] = field(default_factory=list)  # reasons; empty: deleted


@dataclass
class RetainPlan:
    repository: str
    kept: list[Version]
    deleted: list[Version]
    errors: list[str] = field(default_factory=list)
    dry_run: bool = True


def plan(
    repo: ImageRef,
    infos: list[TagInfo],
    rules: RetainRules,
    protected: dict[str, list[str]],
    now: datetime | None = None,
) -> RetainPlan:
    """Decide; ``protected`` maps digests (and ``tag:<name>``) to why they are deployed."""
    now = now or datetime.now(UTC)
    errors = [f"{i.tag}: {i.error}" for i in infos if i.error]
    by_digest: dict[str, Version] = {}
    for i in infos:
        if i.digest is None or is_artifact_tag(i.tag):
            continue
        v = by_digest.setdefault(i.digest, Version(i.digest, [], i.created))
        v.tags.append(i.tag)
    versions = sorted(
        by_digest.values(),
        key=lambda v: (v.created or datetime.min.replace(tzinfo=UTC), v.digest),
        reverse=True,
    )
    pattern = re.compile(rules.keep_tags) if rules.keep_tags else None
    cutoff = now - timedelta(days=rules.keep_days) if rules.keep_days is not None else None
    for n, v in enumerate(versions, start=1):
        if n <= rules.keep_last:
            v.keep.append(f"one of the last {rules.keep_last} versions (#{n})")
        if v.created is None:
            v.keep.append("creation date unknown: never deleted on a guess")
        elif cutoff is not None and v.created >= cutoff:
            v.keep.append(f"created {v.created:%Y-%m-%d}, within {rules.keep_days:g} days")
        if pattern is not None:
            hits = [t for t in v.tags if pattern.search(t)]
            if hits:
                v.keep.append(
                    f"tag {', '.join(sorted(hits))} matches --keep-tags {rules.keep_tags}"
                )
        v.keep += protected.get(v.digest, [])
        for t in v.tags:
            v.keep += protected.get(f"tag:{t}", [])
    kept = [v for v in versions if v.keep]
    deleted = [v for v in versions if not v.keep]
    return RetainPlan(repo.name, kept, deleted, errors)


def execute(client: RegistryClient, repo: ImageRef, p: RetainPlan) -> None:
    """Delete what the plan says: each manifest, its cosign artifacts, and the platform
    manifests of a deleted index that no kept version shares."""
    writer = RegistryWriter(client)
    base = repo.with_tag(None)
    keep_children: set[str] = set()
    for v in p.kept:
        keep_children |= _children(client, base, v.digest)
    for v in p.deleted:
        children = _children(client, base, v.digest) - keep_children
        try:
            for suffix in ("sig", "att", "sbom"):
                try:
                    art = client.head_manifest(base.with_tag(cosign_tag(v.digest, suffix)))
                except NotFoundError:
                    continue
                writer.delete_manifest(base, art.digest)
            writer.delete_manifest(base, v.digest)
            for child in sorted(children):
                writer.delete_manifest(base, child)
        except RegistryError as exc:
            p.errors.append(f"deleting {v.digest}: {exc.message}")
    p.dry_run = False


def _children(client: RegistryClient, base: ImageRef, digest: str) -> set[str]:
    try:
        m = client.get_manifest(base.with_digest(digest))
    except RegistryError:
        return set()
    return {d.digest for d in m.manifests} if m.is_index else set()
