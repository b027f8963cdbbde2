"""``retention:`` in ``patchwarden.yaml``: what ``registry retain`` keeps, per repository
pattern. Documented in docs/configuration.md (section ``retention``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from patchwarden.config.regexes import check_regexes


class RetentionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str = Field(description="glob on the normalized repository name")
    keep_last: int = Field(ge=0, description="newest versions kept")
    keep_days: float | None = Field(None, ge=0, description="keep versions created within D days")
    keep_tags: list[str] = Field(
        default_factory=list, description="regexes; a version with a matching tag is kept"
    )
    keep_rollback: int = Field(
        3, ge=0, description="rollback versions of each container in the state store kept"
    )
    paths: list[str] = Field(
        default_factory=list,
        description="files/directories whose references are deployed (relative to this file)",
    )
    engine: str | None = Field(None, description="Docker-API engine whose containers are deployed")

    @field_validator("keep_tags")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        check_regexes(v)
        return v

    @field_validator("paths")
    @classmethod
    def _paths(cls, v: list[str], info: ValidationInfo) -> list[str]:
        from pathlib import Path

        base = (info.context or {}).get("base_dir")
        out = []
        for p in v:
            path = Path(p).expanduser()
            out.append(str(path if path.is_absolute() or base is None else Path(base) / path))
        return out
