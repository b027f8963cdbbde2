"""The ``verify`` use case: signers from flags or from ``trust:`` rules, one result per image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from patchwarden.app.trust.model import Expected, Require, Verification
from patchwarden.app.trust.policy import TrustPolicy
from patchwarden.app.trust.verifier import Verifier
from patchwarden.config.schema import Config
from patchwarden.core.ref import parse_reference
from patchwarden.errors import UsageError
from patchwarden.trust.keys import load_public_key


def expected_from_flags(
    keys: Sequence[Path], gpg_keys: Sequence[Path], lookaside: str | None, require: str
) -> Expected | None:
    """What the command line asks for; None when it names no signer (use the config)."""
    try:
        mode = Require(require)
    except ValueError:
        raise UsageError(f"--require must be any or all, not {require!r}") from None
    if gpg_keys and not lookaside:
        raise UsageError(
            "--gpg-key needs --lookaside: OpenPGP signatures are not stored in the registry",
            "pass the directory or URL skopeo's lookaside-staging wrote them to",
        )
    if not keys and not gpg_keys:
        return None
    for g in gpg_keys:
        if not g.is_file():
            raise UsageError(f"cannot read OpenPGP key {g}", "check the path given to --gpg-key")
    return Expected(
        keys=tuple(load_public_key(k) for k in keys),
        gpg_keys=tuple(str(g) for g in gpg_keys),
        require=mode,
        lookaside=lookaside,
    )


def run_verify(
    images: Sequence[str], expected: Expected | None, config: Config, verifier: Verifier
) -> list[Verification]:
    refs = [parse_reference(i) for i in images]
    policy = TrustPolicy(config.trust)
    out: list[Verification] = []
    for ref in refs:
        wanted = [expected] if expected is not None else policy.expected_for(ref)
        if not wanted:
            raise UsageError(
                f"nothing to verify {ref} against: no --key/--gpg-key given and no trust rule "
                "in patchwarden.yaml matches it",
                "pass --key PUBKEY.pem, or add a trust: rule (docs/configuration.md)",
            )
        results = [verifier.verify(ref, e) for e in wanted]
        out.append(next((r for r in results if not r.verified), results[0]))
    return out
