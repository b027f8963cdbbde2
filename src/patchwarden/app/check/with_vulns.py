"""Attach vulnerability facts to a ``check`` result and let them choose the candidate."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from patchwarden.app.check.results import CheckResult, Status, Version
from patchwarden.app.check.vulns import Assessment, Option
from patchwarden.errors import PatchwardenError
from patchwarden.policy.model import Policy, UpdateLevel
from patchwarden.refs.model import Reference

if TYPE_CHECKING:
    from patchwarden.app.check.checker import Checker

_LEVELS = (UpdateLevel.PATCH, UpdateLevel.MINOR, UpdateLevel.MAJOR)


def with_vulnerabilities(
    checker: Checker, ref: Reference, policy: Policy, result: CheckResult
) -> CheckResult:
    from patchwarden.app.check.checker import platform_for

    assert checker.vulns is not None
    platform, _ = platform_for(ref, policy, checker.default_platform)
    current = ref.ref.with_digest(result.current.digest) if result.current.digest else ref.ref
    try:
        if result.status != Status.OUTDATED or result.update == "digest":
            found = checker.vulns.findings(current, platform)
            return replace(result, vulns=Assessment(found))
        candidates = _candidates(checker, ref, policy)
        assessment = checker.vulns.assess(current, candidates, policy, platform)
    except PatchwardenError as exc:
        return replace(result, reason=f"{result.reason}; vulnerability scan failed: {exc}")
    return _choose(result, assessment, policy)


def _candidates(checker: Checker, ref: Reference, policy: Policy) -> list[tuple[str, str, str]]:
    """The newest allowed tag at each level up to the policy's: (tag, digest, level)."""
    out: dict[str, tuple[str, str, str]] = {}
    for level in _LEVELS:
        if level.rank > policy.level.rank:
            break
        decision = checker._decide(ref, replace(policy, level=level))
        if decision is None or decision.candidate is None or decision.update is None:
            continue
        if decision.candidate not in out:
            head = checker.registry.head_manifest(ref.ref.with_tag(decision.candidate))
            out[decision.candidate] = (decision.candidate, head.digest, decision.update.value)
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
                    f"; {best.tag} would fix {len(best.fixed)} known vulnerabilities ({plain} "
                    f"fixes {len(plain_option.fixed)}): add a vulnerability rule (require or "
                    "max_severity) to the policy to prefer it"
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
