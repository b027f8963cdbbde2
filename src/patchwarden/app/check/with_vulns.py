"""Attach vulnerability facts to a ``check`` result and let them choose the candidate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from patchwarden.app.check.results import CheckResult, Status, Version
from patchwarden.app.check.vulns import Assessment, Option, VulnAssessor
from patchwarden.core.ref import ImageRef
from patchwarden.core.words import plural
from patchwarden.errors import PatchwardenError
from patchwarden.policy.model import Policy, UpdateLevel
from patchwarden.policy.select import TagDecision
from patchwarden.refs.model import Reference
from patchwarden.registry.model import Platform

Decide = Callable[[Reference, Policy], TagDecision | None]
"""The checker's tag decision for a reference under a policy (None: not a version tag)."""
DigestOf = Callable[[ImageRef], str]

_LEVELS = (UpdateLevel.PATCH, UpdateLevel.MINOR, UpdateLevel.MAJOR)


def with_vulnerabilities(
    vulns: VulnAssessor,
    ref: Reference,
    policy: Policy,
    platform: Platform,
    result: CheckResult,
    decide: Decide,
    digest_of: DigestOf,
) -> CheckResult:
    current = ref.ref.with_digest(result.current.digest) if result.current.digest else ref.ref
    try:
        if result.status != Status.OUTDATED or result.update == UpdateLevel.DIGEST:
            found = vulns.findings(current, platform)
            return replace(result, vulns=Assessment(found))
        candidates = _candidates(ref, policy, decide, digest_of)
        assessment = vulns.assess(current, candidates, policy, platform)
    except PatchwardenError as exc:
        return replace(result, reason=f"{result.reason}; vulnerability scan failed: {exc}")
    return _choose(result, assessment, policy)


def _candidates(
    ref: Reference, policy: Policy, decide: Decide, digest_of: DigestOf
) -> list[tuple[str, str, UpdateLevel]]:
    """The newest allowed tag at each level up to the policy's: (tag, digest, level)."""
    out: dict[str, tuple[str, str, UpdateLevel]] = {}
    for level in _LEVELS:
        if level.rank > policy.level.rank:
            break
        decision = decide(ref, replace(policy, level=level))
        if decision is None or decision.candidate is None or decision.update is None:
            continue
        if decision.candidate not in out:
            digest = digest_of(ref.ref.with_tag(decision.candidate))
            out[decision.candidate] = (decision.candidate, digest, decision.update)
    return list(out.values())


def _tie(plain: Option, other: Option) -> str:
    return (
        f"{plain.tag} and {other.tag} fix the same number of known vulnerabilities "
        f"({len(plain.fixed)}; they introduce {len(plain.introduced)} and "
        f"{len(other.introduced)}): keeping the policy's choice {plain.tag}"
    )


def has_vulnerability_rule(policy: Policy) -> bool:
    """Only a vulnerability rule (``require``, ``max_severity``) lets CVE counts change the
    candidate; without one, ``--vulns`` informs and ``update`` commits the plain choice."""
    return bool(policy.require) or policy.max_severity is not None


def _choose(result: CheckResult, a: Assessment, policy: Policy) -> CheckResult:
    plain = result.candidate.tag if result.candidate else None
    plain_option = next((o for o in a.options if o.tag == plain), None)
    best = a.recommended
    if not has_vulnerability_rule(policy):
        reason = result.reason
        if best and plain_option and best.tag != plain:
            if len(best.fixed) > len(plain_option.fixed):
                reason += (
                    f"; {best.tag} would fix {plural(len(best.fixed), 'known vulnerability')} "
                    f"({plain} fixes {len(plain_option.fixed)}): add a vulnerability rule "
                    "(require or max_severity) to the policy to prefer it"
                )
            else:
                reason += "; " + _tie(plain_option, best)
                a = replace(a, recommended=plain_option)
        return replace(result, reason=reason, vulns=a)
    if best is None:
        gates = "; ".join(f"{o.tag}: {o.gate}" for o in a.options if o.gate)
        return replace(
            result,
            status=Status.SKIPPED,
            candidate=None,
            update=None,
            reason=f"every candidate is stopped by the policy's gates: {gates}",
            vulns=a,
        )
    reason = result.reason
    if (
        plain_option is not None
        and plain_option.gate is None
        and best.tag != plain
        and len(plain_option.fixed) == len(best.fixed)
    ):
        reason = f"{_tie(plain_option, best)}; {reason}"
        best = plain_option
        a = replace(a, recommended=plain_option)
    elif result.candidate is None or best.tag != result.candidate.tag:
        reason = (
            f"{best.tag} ({best.update}) is the smallest update that fixes the most known "
            f"vulnerabilities ({len(best.fixed)}); {reason}"
        )
    gated = [o for o in a.options if o.gate]
    if gated:
        reason += "; stopped by gates: " + "; ".join(f"{o.tag}: {o.gate}" for o in gated)
    return replace(
        result,
        candidate=Version(best.tag, best.digest),
        update=best.update,
        reason=reason,
        vulns=a,
    )
