"""The parameters of each ``serve`` job kind (``serve.jobs.<kind>.params``), checked when the
configuration is loaded: an unknown or wrongly typed parameter is a configuration error naming
the file, line and key (``serve`` refuses to start), not a failure of the job hours later.

The job functions (``service/kinds.py``) still receive plain JSON-able dicts: the same
parameters also travel to workers as task arguments. Documented in docs/commands/serve.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails


class _Params(BaseModel):
    # strict: YAML already gives booleans and numbers; "yes" or "10" in quotes is a mistake
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CheckParams(_Params):
    repositories: list[str] | None = Field(
        None, description="normalized repository names to check (default: every reference)"
    )
    vulns: bool = Field(
        False,
        description="as `check --vulns`: vulnerabilities of each image, and what its candidate "
        "fixes and introduces (the advisory index of advisories.db_path)",
    )


class ApplyParams(_Params):
    """``apply`` takes no parameters: what it applies is what was approved."""


class ScanParams(_Params):
    images: list[str] | None = Field(
        None, description="REPO@sha256:... to scan (default: every known image)"
    )
    max: int = Field(200, ge=1, description="images scanned per run")


class AdvisoryRefreshParams(_Params):
    update: bool = Field(True, description="false: re-match only (e.g. after `db import`)")


class UpdateParams(_Params):
    path: str | None = Field(None, description="the repository (default: the first PATH)")
    dry_run: bool = False
    pull_request: bool = True
    remote: str = "origin"
    group: Literal["image", "file", "all"] = "image"
    pin: bool = False
    forge: Literal["github", "gitlab", "gitea"] | None = None
    forge_url: str | None = None
    forge_api: str | None = None


class EngineUpdateParams(_Params):
    containers: list[str] = Field(default_factory=list, description="names (default: all)")
    stop_timeout: int = Field(10, ge=0, le=3600, description="seconds")
    hook_timeout: float = Field(60, gt=0, le=86400, description="seconds")


class RebuildParams(_Params):
    path: str | None = Field(None, description="where the builds' contexts are (first PATH)")
    builds: list[str] | None = Field(None, description="names (default: every due build)")


class RolloutParams(_Params):
    rollout_id: int | None = Field(None, ge=1, description="default: the newest unfinished")


class RetentionParams(_Params):
    repositories: list[str] = Field(min_length=1, description="REGISTRY/REPO to clean up")
    keep_last: int | None = Field(None, ge=0)
    keep_days: float | None = Field(None, ge=0)
    keep_tags: str | None = Field(None, description="regex of tags never deleted")
    keep_rollback: int = Field(2, ge=0)
    dry_run: bool = False

    @field_validator("keep_tags")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return v


# keyed by ``JobName`` value (config/serve.py imports this module, not the other way round)
PARAMS: dict[str, type[_Params]] = {
    "check": CheckParams,
    "apply": ApplyParams,
    "scan": ScanParams,
    "advisory-refresh": AdvisoryRefreshParams,
    "update": UpdateParams,
    "engine-update": EngineUpdateParams,
    "rebuild": RebuildParams,
    "rollout": RolloutParams,
    "retention": RetentionParams,
}


def check_params(params: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise a ValidationError whose locations are ``(kind, "params", key)`` when a job's
    parameters do not fit its kind (pydantic prefixes them with the field's own path)."""
    errors: list[InitErrorDetails] = []
    for kind, given in params.items():
        try:
            PARAMS[kind].model_validate(dict(given))
        except ValidationError as exc:
            errors += [
                InitErrorDetails(
                    type=e["type"],
                    loc=(kind, "params", *e["loc"]),
                    input=e["input"],
                    ctx=e.get("ctx", {}),
                )
                for e in exc.errors()
            ]
    if errors:
        raise ValidationError.from_exception_data("job parameters", errors)


def allowed_params(kind: str) -> list[str]:
    """The parameter names of job kind ``kind`` (none for an unknown kind)."""
    model = PARAMS.get(kind)
    return list(model.model_fields) if model is not None else []
