"""The trust gate applied to ``check`` results (and so to ``update`` and ``engine update``,
which act on them): a candidate without an acceptable signature, or any reference outside
``registries.allowed``, becomes ``blocked`` with the reason."""

from __future__ import annotations

from dataclasses import replace

from patchwarden.app.check import CheckResult, Status
from patchwarden.app.serialize.trust import decision_dict, refusal_dict
from patchwarden.app.trust.policy import TrustGate
from patchwarden.core.digest import short_digest


class CheckGate:
    """Implements ``app.check.CandidateGate`` with a :class:`TrustGate`."""

    def __init__(self, gate: TrustGate) -> None:
        self.gate = gate

    def apply(self, result: CheckResult) -> CheckResult:
        if result.status == Status.ERROR:
            return result
        ref = result.reference.ref
        why_not = self.gate.policy.not_allowed(ref)
        if why_not is not None:
            return replace(
                result,
                status=Status.BLOCKED,
                reason=f"refused: {why_not}; it is never deployed or promoted",
                trust=refusal_dict(why_not),
            )
        cand = result.candidate
        if result.status != Status.OUTDATED or cand is None or cand.digest is None:
            return result
        target = ref.with_tag(cand.tag or ref.tag).with_digest(cand.digest)
        decision = self.gate.decide(target)
        if decision.allowed:
            return replace(result, trust=decision_dict(decision))
        label = f"{cand.tag or ''}@{short_digest(cand.digest)}"
        return replace(
            result,
            status=Status.BLOCKED,
            reason=f"candidate {label} {decision.reason}",
            trust=decision_dict(decision),
        )
