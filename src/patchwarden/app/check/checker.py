"""The ``check`` use case: for every reference, ask the registry and apply the policy."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Protocol

from patchwarden.app.check.drift import TagMemory
from patchwarden.app.check.results import CheckReport, CheckResult, Status, Version
from patchwarden.app.check.vulns import VulnAssessor
from patchwarden.app.check.with_vulns import with_vulnerabilities
from patchwarden.cache.registry import CachingRegistry
from patchwarden.config.policies import PolicyResolver
from patchwarden.core.digest import short_digest
from patchwarden.core.ref import ImageRef
from patchwarden.errors import ConfigError, PatchwardenError, RegistryError
from patchwarden.policy.model import Policy, UpdateLevel
from patchwarden.policy.select import TagDecision, choose_tag
from patchwarden.refs.model import Inventory, Reference
from patchwarden.registry.model import Platform
from patchwarden.versions.docker_tag import parse_tag

Progress = Callable[[int, int], None]


class CandidateGate(Protocol):
    """Decides whether a result may stand (the trust gate: app/trust/gate.py)."""

    def apply(self, result: CheckResult) -> CheckResult: ...


class Checker:
    def __init__(
        self,
        registry: CachingRegistry,
        policies: PolicyResolver,
        *,
        concurrency: int = 8,
        default_platform: Platform | None = None,
        vulns: VulnAssessor | None = None,
        now: datetime | None = None,
        tags: TagMemory | None = None,
        trust: CandidateGate | None = None,
    ) -> None:
        self.registry = registry
        self.tags = tags
        self.policies = policies
        self.concurrency = concurrency
        self.now = now or datetime.now(UTC)
        self.default_platform = default_platform or Platform.host()
        self.vulns = vulns
        self.trust = trust
        self._lock = threading.Lock()
        self._decisions: dict[tuple[str, str, str, str], TagDecision] = {}

    def run(self, inventory: Inventory, progress: Progress | None = None) -> CheckReport:
        by_repo: dict[str, list[Reference]] = defaultdict(list)
        for ref in inventory.references:
            by_repo[ref.ref.name].append(ref)
        results: dict[int, CheckResult] = {}
        order = {id(r): i for i, r in enumerate(inventory.references)}
        done = 0
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="check") as pool:
            futures = [pool.submit(self._check_repo, refs) for refs in by_repo.values()]
            for fut in futures:
                for res in fut.result():
                    results[order[id(res.reference)]] = res
                done += 1
                if progress:
                    progress(done, len(futures))
        if self.tags is not None:
            self.tags.flush()
        return CheckReport(
            results=tuple(results[i] for i in sorted(results)),
            skipped=inventory.skipped,
            requests=self.registry.request_counts(),
        )

    def _check_repo(self, refs: Sequence[Reference]) -> list[CheckResult]:
        out = []
        for ref in refs:
            try:
                res = self._check_one(ref)
                out.append(res if self.trust is None else self.trust.apply(res))
            except ConfigError:
                raise  # e.g. a used registry's password_env is unset: the run is misconfigured
            except PatchwardenError as exc:
                out.append(_error(ref, exc))
        return out

    def _check_one(self, ref: Reference) -> CheckResult:
        image = ref.ref
        policy = self.policies.for_image(image)
        current = Version(image.tag, image.digest)
        if policy.ignore:
            return _result(
                ref, Status.SKIPPED, current, None, None, f"ignored by policy ({policy.source})"
            )
        if image.tag is None:
            return _result(
                ref,
                Status.SKIPPED,
                current,
                None,
                None,
                "pinned by digest only: there is no tag to compare "
                "(write tag@digest to get updates)",
            )
        result = self._check_version(ref, policy)
        if self.vulns is not None and result.status in (Status.OUTDATED, Status.UP_TO_DATE):
            platform, _ = platform_for(ref, policy, self.default_platform)
            result = with_vulnerabilities(
                self.vulns, ref, policy, platform, result, self.decide, self._digest_of
            )
        return result

    def _check_version(self, ref: Reference, policy: Policy) -> CheckResult:
        image = ref.ref
        current = Version(image.tag, image.digest)
        decision = self.decide(ref, policy)
        if decision is not None and decision.candidate is not None:
            head = self.registry.head_manifest(image.with_tag(decision.candidate))
            return _result(
                ref,
                Status.OUTDATED,
                current,
                Version(decision.candidate, head.digest),
                decision.update,
                decision.reason,
            )
        return self._check_digest(ref, policy, decision)

    def _digest_of(self, image: ImageRef) -> str:
        return self.registry.head_manifest(image).digest

    def decide(self, ref: Reference, policy: Policy) -> TagDecision | None:
        """A tag decision, or None for tags that are not versions (followed by digest).

        Decided once per (repository, tag, platform) in a run: the policy is a function of the
        repository, so every other reference with the same tag shares the decision.
        """
        tag = ref.ref.tag
        if tag is None or parse_tag(tag) is None or policy.level == UpdateLevel.DIGEST:
            return None
        platform, explicit = platform_for(ref, policy, self.default_platform)
        key = (ref.ref.name, tag, str(platform), policy.level.value)
        with self._lock:
            cached = self._decisions.get(key)
        if cached is None:
            cached = self._choose(ref, tag, policy, platform, explicit)
            with self._lock:
                self._decisions[key] = cached
        return cached

    def _choose(
        self, ref: Reference, tag: str, policy: Policy, platform: Platform, explicit: bool
    ) -> TagDecision:
        tags = self.registry.list_tags(ref.ref)

        def created(candidate: str) -> datetime | None:
            try:
                return self.registry.image_config(ref.ref.with_tag(candidate), platform).created
            except RegistryError:
                return None

        def provides_platform(candidate: str) -> str | None:
            try:
                if _provides(self.registry, ref.ref.with_tag(candidate), platform):
                    return None
            except RegistryError as exc:
                return f"not available for {platform}: {exc.message}"
            return f"not available for {platform}"

        check = provides_platform if explicit else None
        return choose_tag(tag, tags, policy, created=created, check=check, now=self.now)

    def _check_digest(
        self, ref: Reference, policy: Policy, decision: TagDecision | None
    ) -> CheckResult:
        image = ref.ref
        assert image.tag is not None  # noqa: S101 - type narrowing; the caller checked it
        tag_ref = image.with_tag(image.tag)
        head = self.registry.head_manifest(tag_ref)
        now_digest = head.digest
        key = f"{tag_ref.name}:{image.tag}"
        baseline = self.tags.baseline(key) if self.tags is not None else None
        if self.tags is not None:
            self.tags.observe(key, now_digest)
        why = decision.reason if decision is not None else _digest_reason(image.tag, policy)
        current = Version(image.tag, image.digest or now_digest)
        candidate = Version(image.tag, now_digest)
        if image.digest and image.digest != now_digest:
            return _result(
                ref,
                Status.OUTDATED,
                Version(image.tag, image.digest),
                candidate,
                UpdateLevel.DIGEST,
                f"tag {image.tag} moved: pinned {short_digest(image.digest)}, "
                f"the registry now serves {short_digest(now_digest)}; {why}",
            )
        if not image.digest and baseline is not None and baseline.digest != now_digest:
            when = (baseline.changed_at or baseline.since).strftime("%Y-%m-%d %H:%M UTC")
            return _result(
                ref,
                Status.OUTDATED,
                Version(image.tag, baseline.digest),
                candidate,
                UpdateLevel.DIGEST,
                f"tag {image.tag} moved upstream (seen {when}): it pointed at "
                f"{short_digest(baseline.digest)} and now serves {short_digest(now_digest)} "
                f"(reported until the references pin it: `patchwarden update --pin-digest`); "
                f"{why}",
            )
        if not image.digest and policy.pin_digest:
            return _result(
                ref,
                Status.OUTDATED,
                Version(image.tag, None),
                candidate,
                UpdateLevel.DIGEST,
                f"not pinned: policy pin_digest ({policy.source}) wants "
                f"{image.tag}@{short_digest(now_digest)}; {why}",
            )
        if decision is None:  # followed by digest, and it has not moved
            why += "; digest unchanged"
        return _result(ref, Status.UP_TO_DATE, current, None, None, why)


def platform_for(ref: Reference, policy: Policy, default: Platform) -> tuple[Platform, bool]:
    """The platform to read images for, and whether it was asked for explicitly.

    A concrete ``FROM --platform=linux/arm64`` wins, then the policy's ``platform``; both are
    explicit, so candidates must provide them. Otherwise the configured default, not enforced.
    """
    for text in (ref.platform, policy.platform):
        if text and "$" not in text:
            try:
                return Platform.parse(text), True
            except ValueError:
                continue
    return default, False


def _provides(registry: CachingRegistry, image: ImageRef, platform: Platform) -> bool:
    platforms = registry.platforms(image)
    if platforms is None:  # a single-platform image: its config says which
        config = registry.image_config(image, platform)
        return (config.os, config.architecture) == (platform.os, platform.architecture)
    return any(
        (p.os, p.architecture) == (platform.os, platform.architecture)
        and (platform.variant is None or p.variant in (None, platform.variant))
        for p in platforms
    )


def _digest_reason(tag: str, policy: Policy) -> str:
    if policy.level == UpdateLevel.DIGEST:
        return f"policy allows digest updates only ({policy.source})"
    return f"{tag!r} is not a version tag, so it is followed by digest"


def _result(
    ref: Reference,
    status: Status,
    current: Version,
    candidate: Version | None,
    update: UpdateLevel | None,
    reason: str,
) -> CheckResult:
    return CheckResult(ref, status, current, candidate, update, reason)


def _error(ref: Reference, exc: PatchwardenError) -> CheckResult:
    return CheckResult(
        ref,
        Status.ERROR,
        Version(ref.ref.tag, ref.ref.digest),
        None,
        None,
        str(exc),
        transient=exc.transient,
    )
