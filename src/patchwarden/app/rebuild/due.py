"""``rebuild --check``: is a build due, and why, from HEAD requests.

Per build: one HEAD of the destination's moving tag and one HEAD of the base tag (shared by
every build on the same base). What the last build was built on comes from the state store's
record of that digest, or else from the image config's ``org.opencontainers.image.base.*``
labels (content-addressed: read once, then served from the disk cache forever). A newer base
tag allowed by policy comes from ``check`` (tag lists cached for ``cache.tag_ttl``).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from patchwarden.app.rebuild.model import (
    LABEL_BASE_DIGEST,
    LABEL_BASE_NAME,
    BuildSpec,
    DueDecision,
    DueReason,
    Reason,
)
from patchwarden.cache.registry import CachingRegistry
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.core.words import plural
from patchwarden.errors import NotFoundError, PatchwardenError
from patchwarden.refs.model import Inventory, Reference, RefKind
from patchwarden.registry.model import Platform

if TYPE_CHECKING:
    from patchwarden.app.check.checker import Checker
    from patchwarden.store.builds import BuildRecord


class BuildHistory(Protocol):
    def last_pushed_build(self, name: str, destination: str) -> BuildRecord | None: ...


def _short(digest: str | None) -> str:
    return digest.split(":")[-1][:12] if digest else "-"


def same_repository(a: str, b: ImageRef) -> bool:
    try:
        return parse_reference(a).name == b.name
    except PatchwardenError:
        return False


class DueChecker:
    def __init__(
        self,
        registry: CachingRegistry,
        history: BuildHistory | None,
        checker: Checker | None = None,
        *,
        platform: Platform | None = None,
        concurrency: int = 8,
    ) -> None:
        self.registry = registry
        self.history = history
        self.checker = checker
        self.platform = platform or Platform.host()
        self.concurrency = concurrency
        self._newer: dict[str, DueReason | None] = {}

    def requests(self) -> dict[str, int]:
        """Registry requests made so far, by kind."""
        stats = getattr(self.registry.inner, "stats", None)
        return dict(stats.snapshot()) if stats is not None else {}

    def decide_all(self, specs: Sequence[BuildSpec]) -> list[DueDecision]:
        """Every build's decision. The policy check of the base tags (tag lists, often from
        the disk cache) runs beside the HEADs of the destinations and bases, not before them;
        its reasons are merged in afterwards."""
        with ThreadPoolExecutor(self.concurrency + 1, thread_name_prefix="due") as pool:
            bases = pool.submit(self._check_bases, specs)
            decided = list(pool.map(self._decide_one, specs))
            bases.result()
        return [self._with_newer(spec, d) for spec, d in zip(specs, decided, strict=True)]

    def decide(self, spec: BuildSpec) -> DueDecision:
        return self.decide_all([spec])[0]

    def _decide_one(self, spec: BuildSpec) -> DueDecision:
        try:
            return self._decide(spec)
        except PatchwardenError as exc:
            return DueDecision(
                spec.name, str(spec.destination), str(spec.base), False, error=str(exc)
            )

    def _with_newer(self, spec: BuildSpec, d: DueDecision) -> DueDecision:
        """Add the newer-base-tag reason (before fixable-packages, as it is reported)."""
        newer = self._newer.get(str(spec.base))
        if newer is None or d.error or d.last_digest is None:
            return d
        reasons = list(d.reasons)
        at = next(
            (i for i, r in enumerate(reasons) if r.kind == Reason.FIXABLE_PACKAGES), len(reasons)
        )
        reasons.insert(at, newer)
        return _replace(d, due=True, reasons=tuple(reasons))

    def _check_bases(self, specs: Sequence[BuildSpec]) -> None:
        """One ``check`` run over every distinct base tag: newer tags allowed by policy."""
        if self.checker is None:
            return
        refs: dict[str, Reference] = {}
        for spec in specs:
            key = str(spec.base)
            if spec.base.tag is None or key in self._newer or key in refs:
                continue
            refs[key] = Reference(
                file=str(spec.dockerfile),
                line=0,
                kind=RefKind.DOCKERFILE,
                image=key,
                ref=spec.base,
                context="FROM",
            )
        if not refs:
            return
        report = self.checker.run(Inventory(tuple(refs.values()), ()))
        for result in report.results:
            key = str(result.reference.ref)
            self._newer[key] = None
            if result.candidate is not None and result.update not in (None, "digest"):
                self._newer[key] = DueReason(
                    Reason.NEWER_BASE_TAG,
                    f"{result.reference.ref.familiar_name}:{result.candidate.tag} "
                    f"({result.update}) is allowed by policy: run `patchwarden update` to move "
                    "the FROM line, then rebuild",
                )

    def _decide(self, spec: BuildSpec) -> DueDecision:
        dest, base = spec.destination, spec.base
        decision = DueDecision(spec.name, str(dest), str(base), False)
        last = (
            self.history.last_pushed_build(spec.name, str(spec.destination))
            if self.history
            else None
        )
        last_digest = self._last_digest(spec, last)
        if last_digest is None:
            where = f"{dest}:{spec.moving_tag}" if spec.moving_tag else str(dest)
            return _with(decision, DueReason(Reason.NEVER_BUILT, f"{where} does not exist yet"))
        decision = _replace(decision, last_digest=last_digest)
        built_name, built_digest, fixable = None, None, None
        if last is not None and last.image_digest == last_digest:
            built_name, built_digest, fixable = last.base_name, last.base_digest, last.fixable
        else:
            labels = self.registry.image_config(dest.with_digest(last_digest), self.platform).labels
            built_name, built_digest = labels.get(LABEL_BASE_NAME), labels.get(LABEL_BASE_DIGEST)
        decision = _replace(decision, base_digest_built=built_digest)
        reasons: list[DueReason] = []
        if built_digest is None or built_name is None:
            reasons.append(
                DueReason(
                    Reason.NO_BASE_RECORD,
                    f"{dest}@{_short(last_digest)} carries no {LABEL_BASE_DIGEST} label, so "
                    "whether its base moved is unknown",
                )
            )
        elif not same_repository(built_name, base):
            reasons.append(
                DueReason(
                    Reason.BASE_CHANGED,
                    f"the last build was on {built_name}, the Dockerfile now starts FROM {base}",
                )
            )
        if base.digest is None:
            now = self.registry.head_manifest(base).digest
            decision = _replace(decision, base_digest_now=now)
            if built_digest is not None and now != built_digest:
                reasons.append(
                    DueReason(
                        Reason.BASE_MOVED,
                        f"{base} moved: built on {_short(built_digest)}, now {_short(now)}",
                    )
                )
        if fixable:
            reasons.append(
                DueReason(
                    Reason.FIXABLE_PACKAGES,
                    f"the last build's scan found {plural(fixable, 'vulnerability')} with a fixed "
                    "package version in the distribution",
                )
            )
        return _replace(decision, due=bool(reasons), reasons=tuple(reasons))

    def _last_digest(self, spec: BuildSpec, last: BuildRecord | None) -> str | None:
        if spec.moving_tag is None:
            return last.image_digest if last is not None else None
        try:
            return self.registry.head_manifest(spec.destination.with_tag(spec.moving_tag)).digest
        except NotFoundError:
            return None


def forced(decision: DueDecision) -> DueDecision:
    """``--force``: a build that was not due, made due."""
    return _with(decision, DueReason(Reason.FORCED, "--force: built although not due"))


def _with(decision: DueDecision, reason: DueReason) -> DueDecision:
    return _replace(decision, due=True, reasons=(*decision.reasons, reason))


def _replace(decision: DueDecision, **changes: object) -> DueDecision:
    from dataclasses import replace

    return replace(decision, **changes)  # type: ignore[arg-type]
