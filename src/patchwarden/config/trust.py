"""Keyless signers of a ``trust:`` rule: certificate identities (issuer and subject, exact or
regex) and the sigstore trusted root they are checked against. Documented in
docs/configuration.md (section ``trust``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
