"""The ``trust:`` and ``registries.allowed`` policy, and the gate every command that deploys or
copies an image puts candidates through. Fails closed: a key that cannot be read, a registry
error while fetching signatures or a missing signature all refuse the image."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from patchwarden.app.trust.model import Expected, Require, Verification
from patchwarden.app.trust.verifier import Verifier
from patchwarden.core.ref import ImageRef
from patchwarden.errors import ConfigError, UsageError
from patchwarden.trust.bundle import Identity, load_trusted_root
from patchwarden.trust.keys import VerifyingKey, load_public_key, parse_public_key

if TYPE_CHECKING:  # pydantic is not needed to apply rules (start-up time)
    from patchwarden.config.trust import TrustRule


def _matches(image: ImageRef, pattern: str) -> bool:
    return fnmatchcase(image.name, pattern) or fnmatchcase(image.familiar_name, pattern)


def _load_key(source: str, where: str) -> VerifyingKey:
    try:
        if source.lstrip().startswith("-----BEGIN"):
            return parse_public_key(source.encode(), f"{where} (inline key)")
        return load_public_key(Path(source))
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc.message}", exc.hint) from None


@dataclass(frozen=True)
class Decision:
    """The gate's answer for one image: allowed or not, why, and the verifications made."""

    allowed: bool
    reason: str
    verifications: tuple[Verification, ...] = field(default=())


class TrustPolicy:
    """Which signers each image needs (every matching ``trust`` rule), and which registries
    are allowed at all."""

    def __init__(self, rules: Sequence[TrustRule], allowed: Sequence[str] | None = None) -> None:
        self.rules = list(rules)
        self.allowed = None if allowed is None else list(allowed)
        self._expected: dict[int, Expected] = {}
        self._lock = threading.Lock()

    def load(self) -> TrustPolicy:
        """Read every rule's keys now: a missing key is a configuration error at start, not a
        per-image failure later."""
        for i, rule in enumerate(self.rules):
            exp = self._rule_expected(i, rule)
            if exp.keyless:
                try:
                    load_trusted_root(exp.trusted_root)
                except UsageError as exc:
                    raise ConfigError(f"{exp.source}: {exc.message}", exc.hint) from None
        return self

    @property
    def active(self) -> bool:
        return bool(self.rules) or self.allowed is not None

    def not_allowed(self, image: ImageRef) -> str | None:
        """Why ``image`` is outside ``registries.allowed``, or None when it is allowed."""
        if self.allowed is None or any(_matches(image, p) for p in self.allowed):
            return None
        return f"{image.name} is not in registries.allowed ({', '.join(self.allowed) or 'empty'})"

    def expected_for(self, image: ImageRef) -> list[Expected]:
        out = []
        for i, rule in enumerate(self.rules):
            if _matches(image, rule.match):
                out.append(self._rule_expected(i, rule))
        return out

    def _rule_expected(self, i: int, rule: TrustRule) -> Expected:
        with self._lock:
            hit = self._expected.get(i)
            if hit is None:
                where = f"trust[{i}] (match: {rule.match})"
                keys = tuple(_load_key(k, where) for k in rule.keys)
                hit = Expected(
                    keys=keys,
                    gpg_keys=tuple(rule.gpg_keys),
                    require=Require(rule.require),
                    source=where,
                    lookaside=rule.lookaside,
                    identities=tuple(
                        Identity(i.issuer, i.issuer_regex, i.subject, i.subject_regex)
                        for i in rule.identities
                    ),
                    trusted_root=rule.trusted_root,
                )
                self._expected[i] = hit
            return hit


class TrustGate:
    def __init__(self, policy: TrustPolicy, verifier: Verifier) -> None:
        self.policy = policy
        self.verifier = verifier

    def decide(self, image: ImageRef) -> Decision:
        """``image`` should carry its digest: the digest is what is verified and deployed."""
        why_not = self.policy.not_allowed(image)
        if why_not is not None:
            return Decision(False, f"refused: {why_not}")
        expected = self.policy.expected_for(image)
        if not expected:
            return Decision(True, "no trust rule applies")
        results = tuple(self.verifier.verify(image, e) for e in expected)
        bad = [(e, v) for e, v in zip(expected, results, strict=True) if not v.verified]
        if bad:
            e, v = bad[0]
            return Decision(False, f"refused by {e.source}: {v.reason}", results)
        return Decision(True, "; ".join(v.reason for v in results), results)
