"""The ``registry promote`` use case: gate, copy by digest, tag last, record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from patchwarden.app.promote.copy import Copier, CopyStats
from patchwarden.app.serialize.trust import decision_dict
from patchwarden.core.ref import ImageRef
from patchwarden.errors import ExitCode, PatchwardenError, UsageError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.manifests import index_platforms

if TYPE_CHECKING:  # SQLAlchemy and Alembic cost ~0.3 s to import: only when recording
    from patchwarden.app.trust.policy import Decision, TrustGate
    from patchwarden.store.promotions import PromotionLog


@dataclass(frozen=True)
class PromoteResult:
    source: str
    destination: str
    digest: str
    outcome: str  # promoted | unchanged | refused
    reason: str
    platforms: tuple[str, ...] = ()
    stats: CopyStats = field(default_factory=CopyStats)
    verification: Decision | None = None  # the trust gate's, when trust: rules apply


class PromotionRefused(PatchwardenError):
    exit_code = ExitCode.UNTRUSTED


class Promoter:
    def __init__(
        self,
        client: RegistryClient,
        *,
        gate: TrustGate | None = None,
        log: PromotionLog | None = None,
        actor: str = "unknown",
        workers: int = 6,
        on_blob: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.gate = gate
        self.log = log
        self.actor = actor
        self.workers = workers
        self.on_blob = on_blob

    def _record(self, src: str, dst: str, digest: str, outcome: str, ver: dict[str, Any]) -> None:
        if self.log is not None:
            from patchwarden.store.promotions import PromotionRecord

            self.log.record(
                PromotionRecord(datetime.now(UTC), src, dst, digest, self.actor, outcome, ver)
            )

    def promote(self, src: ImageRef, dst: ImageRef, *, immutable: bool = False) -> PromoteResult:
        if dst.digest:
            raise UsageError(
                f"the destination {dst} names a digest",
                "give a repository and tag: the digest is always the source's",
            )
        tag = dst.tag or src.tag
        if tag is None:
            raise UsageError(
                f"no tag for the destination: {src} is pinned by digest and {dst} names no tag",
                "write the destination as repository:tag",
            )
        dst = dst.with_tag(tag)
        digest = src.digest or self.client.head_manifest(src).digest
        pinned = src.with_digest(digest)
        manifest = self.client.get_manifest(pinned)
        platforms = tuple(str(p) for p in index_platforms(manifest)) if manifest.is_index else ()
        verification: dict[str, Any] = {}  # what the promotion log keeps
        decision: Decision | None = None
        if self.gate is not None:
            for image in (dst,):
                why = self.gate.policy.not_allowed(image)
                if why is not None:
                    self._record(str(pinned), str(dst), digest, "refused", {"reason": why})
                    raise PromotionRefused(f"promotion refused: {why}")
            decision = self.gate.decide(pinned)
            verification = decision_dict(decision)
            if not decision.allowed:
                self._record(str(pinned), str(dst), digest, "refused", verification)
                raise PromotionRefused(f"promotion of {pinned} refused: {decision.reason}")
        copier = Copier(self.client, workers=self.workers, on_blob=self.on_blob)
        existing = copier.writer.has_manifest(dst, tag)
        if existing is not None and existing != digest and immutable:
            raise PatchwardenError(
                f"{dst} already points to {existing}, not {digest}; --immutable never "
                "overwrites a tag",
                "promote under a new tag, or drop --immutable to move the tag",
            )
        copier.copy_manifest(pinned, dst, manifest)
        copier.copy_referrers(pinned, dst, digest)
        if existing == digest:
            outcome, reason = "unchanged", f"{dst} already is {digest}"
        else:
            copier.tag(dst, tag, manifest)  # last: the image is complete before it has a name
            moved = f" (was {existing})" if existing else ""
            outcome, reason = "promoted", f"{dst} now is {digest}{moved}"
        self._record(str(pinned), str(dst), digest, outcome, verification)
        return PromoteResult(
            str(pinned),
            str(dst),
            digest,
            outcome,
            reason,
            platforms,
            copier.stats,
            decision,
        )
