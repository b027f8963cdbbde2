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
from patchwarden.trust.bundle import PUBLIC_GOOD, Identity, load_trusted_root
from patchwarden.trust.keys import load_public_key


def identity_from_flags(
    subject: str | None,
    subject_regex: str | None,
    issuer: str | None,
    issuer_regex: str | None,
) -> Identity | None:
    """The keyless signer the ``--certificate-*`` flags name; None when none is given."""
    if not (subject or subject_regex or issuer or issuer_regex):
        return None
    if not (subject or subject_regex) or not (issuer or issuer_regex):
        raise UsageError(
            "keyless verification needs both a subject and an issuer",
            "pass --certificate-identity (or --certificate-identity-regexp) and "
            "--certificate-oidc-issuer (or --certificate-oidc-issuer-regexp)",
        )
    if (subject and subject_regex) or (issuer and issuer_regex):
        raise UsageError(
            "give either the exact or the -regexp form of each certificate flag, not both",
            "drop --certificate-identity-regexp or --certificate-oidc-issuer-regexp",
        )
    return Identity(issuer, issuer_regex, subject, subject_regex)


def expected_from_flags(
    keys: Sequence[Path],
    gpg_keys: Sequence[Path],
    lookaside: str | None,
    require: str,
    identity: Identity | None = None,
    trusted_root: str | None = None,
) -> Expected | None:
    """What the command line asks for; None when it names no signer (use the config)."""
    try:
        mode = Require(require)
    except ValueError:
        raise UsageError(f"--require must be any or all, not {require!r}") from None
    if trusted_root is not None:
        load_trusted_root(trusted_root)  # unreadable: exit 2 now, not "not verified" later
    if gpg_keys and not lookaside:
        raise UsageError(
            "--gpg-key needs --lookaside: OpenPGP signatures are not stored in the registry",
            "pass the directory or URL skopeo's lookaside-staging wrote them to",
        )
    if not keys and not gpg_keys and identity is None:
        return None
    for g in gpg_keys:
        if not g.is_file():
            raise UsageError(f"cannot read OpenPGP key {g}", "check the path given to --gpg-key")
    return Expected(
        keys=tuple(load_public_key(k) for k in keys),
        gpg_keys=tuple(str(g) for g in gpg_keys),
        require=mode,
        lookaside=lookaside,
        identities=() if identity is None else (identity,),
        trusted_root=trusted_root or PUBLIC_GOOD,
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
                f"nothing to verify {ref} against: no --key/--gpg-key/--certificate-identity "
                "given and no trust rule "
                "in patchwarden.yaml matches it",
                "pass --key PUBKEY.pem, or add a trust: rule (docs/configuration.md)",
            )
        results = [verifier.verify(ref, e) for e in wanted]
        out.append(next((r for r in results if not r.verified), results[0]))
    return out
