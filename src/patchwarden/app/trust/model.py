"""What a signature check expects and what it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from patchwarden.trust.keys import VerifyingKey


class Require(StrEnum):
    any = "any"  # one of the listed signers is enough
    all = "all"  # every listed signer must have signed


def gpg_name(key: str) -> str:
    """How an OpenPGP key (a file, or inline armor) is named in results."""
    if key.lstrip().startswith("-----BEGIN"):
        return "inline OpenPGP key"
    return f"{key} (OpenPGP)"


@dataclass(frozen=True)
class Expected:
    """Who must have signed: cosign public keys and/or OpenPGP keys (simple signing)."""

    keys: tuple[VerifyingKey, ...] = ()
    gpg_keys: tuple[str, ...] = ()  # paths of exported OpenPGP public keys
    require: Require = Require.any
    source: str = "command line"
    lookaside: str | None = None  # where OpenPGP signatures are read (directory or URL)

    @property
    def signers(self) -> list[str]:
        return [f"{k.name} ({k.kind}, id {k.key_id})" for k in self.keys] + [
            gpg_name(g) for g in self.gpg_keys
        ]

    def describe(self) -> str:
        who = self.signers
        if not who:
            return "no signer configured"
        if len(who) == 1:
            return f"a signature by {who[0]}"
        return f"signatures by {self.require.value} of: {', '.join(who)}"


@dataclass(frozen=True)
class Found:
    """One signature looked at: who made it (if anyone we know) and why it counts or not."""

    kind: str  # cosign | gpg
    where: str  # the tag or lookaside location it came from
    signer: str | None  # the expected signer that verified it, None if none did
    valid: bool
    note: str


@dataclass(frozen=True)
class Verification:
    image: str
    digest: str | None
    verified: bool
    reason: str
    expected: str
    coverage: str | None = None  # what the verified digest covers (platforms of an index)
    signed_by: tuple[str, ...] = ()
    found: tuple[Found, ...] = field(default=())
