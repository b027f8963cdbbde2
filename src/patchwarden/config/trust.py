"""``trust:`` rules: which signers an image pattern requires (cosign keys, OpenPGP keys and
their lookaside, keyless certificate identities checked against a sigstore trusted root).
Documented in docs/configuration.md (section ``trust``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from patchwarden.config.fields import Strict
from patchwarden.config.regexes import check_regexes


class KeylessIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str | None = Field(None, description="OIDC issuer, exact")
    issuer_regex: str | None = Field(None, description="OIDC issuer, regex (full match)")
    subject: str | None = Field(None, description="certificate subject (e-mail, URI), exact")
    subject_regex: str | None = Field(None, description="certificate subject, regex (full match)")

    @model_validator(mode="after")
    def _one_each(self) -> KeylessIdentity:
        if (self.issuer is None) == (self.issuer_regex is None):
            raise ValueError("give exactly one of issuer, issuer_regex")
        if (self.subject is None) == (self.subject_regex is None):
            raise ValueError("give exactly one of subject, subject_regex")
        check_regexes((self.issuer_regex, self.subject_regex))
        return self


def _key_source(v: str, info: ValidationInfo) -> str:
    """Inline PEM/armored keys stay as they are; paths become absolute (relative to the
    config file's directory)."""
    if v.lstrip().startswith("-----BEGIN"):
        return v
    base = (info.context or {}).get("base_dir")
    p = Path(v).expanduser()
    return str(p if p.is_absolute() or base is None else Path(base) / p)


class TrustRule(Strict):
    match: str = Field(description="glob on the normalized image name, as in images[]")
    keys: list[str] = Field(
        default_factory=list, description="cosign public keys: PEM files or inline PEM"
    )
    gpg_keys: list[str] = Field(
        default_factory=list, description="OpenPGP public keys (simple signing via lookaside)"
    )
    lookaside: str | None = Field(
        None, description="where OpenPGP signatures live: a directory or an http(s) URL"
    )
    require: Literal["any", "all"] = Field(
        "any", description="any: one listed signer suffices; all: every one must have signed"
    )
    identities: list[KeylessIdentity] = Field(
        default_factory=list, description="keyless signers: sigstore bundle certificate identities"
    )
    trusted_root: str = Field(
        "public-good", description="sigstore trusted_root.json for identities, or public-good"
    )

    @field_validator("keys", "gpg_keys")
    @classmethod
    def _sources(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [_key_source(k, info) for k in v]

    @field_validator("trusted_root")
    @classmethod
    def _root(cls, v: str, info: ValidationInfo) -> str:
        return v if v == "public-good" else _key_source(v, info)

    @model_validator(mode="after")
    def _someone(self) -> TrustRule:
        if not self.keys and not self.gpg_keys and not self.identities:
            raise ValueError(
                f"trust rule {self.match!r} names no signer: add keys, gpg_keys or identities"
            )
        if self.gpg_keys and not self.lookaside:
            raise ValueError(
                f"trust rule {self.match!r} has gpg_keys but no lookaside to read signatures from"
            )
        return self
