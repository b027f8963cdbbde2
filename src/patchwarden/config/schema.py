"""The ``patchwarden.yaml`` schema. Unknown keys are errors (``extra="forbid"``).

Every key is documented in docs/configuration.md; keep the two in step.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
)

from patchwarden.config.serve import ServeConfig, cron_expression, time_zone
from patchwarden.core.durations import parse_duration


def _duration(v: object) -> object:
    if isinstance(v, str):
        return parse_duration(v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return timedelta(seconds=v)
    return v


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Level = Literal["digest", "patch", "minor", "major"]
Gate = Literal["no-new-critical", "fewer-vulnerabilities", "no-new-vulnerabilities"]
SeverityName = Literal["critical", "high", "medium", "low"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyFields(_Strict):
    level: Level | None = Field(None, description="largest update allowed")
    include: list[str] | None = Field(None, description="tag regexes; a candidate must match one")
    exclude: list[str] | None = Field(
        None, description="tag regexes; a matching candidate is rejected"
    )
    ignore: bool | None = None
    pin_digest: bool | None = None
    min_age: Duration | None = None
    platform: str | None = None
    allow_prerelease: bool | None = None
    require: list[Gate] | None = Field(None, description="vulnerability gates for --vulns")
    max_severity: SeverityName | None = Field(
        None, description="highest finding severity a candidate may carry (--vulns)"
    )

    @field_validator("include", "exclude")
    @classmethod
    def _regexes(cls, v: list[str] | None) -> list[str] | None:
        for pattern in v or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return v

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?", v):
            raise ValueError(
                f"invalid platform {v!r}: expected os/arch[/variant], e.g. linux/arm64"
            )
        return v


class ImageRule(PolicyFields):
    match: str = Field(
        description="glob on the normalized image name, "
        "e.g. docker.io/library/node or ghcr.io/acme/*"
    )


class RegistryConfig(_Strict):
    insecure: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    max_concurrency: int = Field(8, ge=1, le=64)


class CacheConfig(_Strict):
    dir: str | None = None
    tag_ttl: Duration = timedelta(hours=1)
    enabled: bool = True


class DiscoveryConfig(_Strict):
    exclude: list[str] = Field(default_factory=list)
    follow_symlinks: bool = False
    compose_files: list[str] = Field(
        default_factory=list,
        description="gitignore-style patterns of files read as Compose files whatever their name",
    )


class GitConfig(_Strict):
    author: str | None = Field(
        None,
        description="commit author for update --commit, 'Name <email>' "
        "(default: the repository's git user)",
    )

    @field_validator("author")
    @classmethod
    def _author(cls, v: str | None) -> str | None:
        import re

        if v is not None and not re.fullmatch(r"[^<>\n]+ <[^<>\s]+>", v.strip()):
            raise ValueError(f"invalid author {v!r}: write 'Name <email@example.org>'")
        return v.strip() if v is not None else None


class AdvisoriesConfig(_Strict):
    db_path: str | None = Field(None, description="advisory index file (SQLite)")
    base_url: str = Field(
        "https://osv-vulnerabilities.storage.googleapis.com",
        description="OSV bucket layout: <base>/<Ecosystem>/all.zip and modified_id.csv",
    )
    ecosystems: list[str] = Field(
        default_factory=lambda: ["Debian", "Ubuntu", "Alpine", "PyPI", "npm", "Go", "Maven"],
        description="ecosystems `db update` fetches",
    )
    max_download_mb: int = Field(2048, ge=1, description="cap on one download")


class ScheduleConfig(_Strict):
    cron: str = Field(description="5-field cron; the moment update runs must match every field")
    timezone: str = Field("UTC", description="IANA time zone the cron is read in")

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        return cron_expression(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return time_zone(v)


class Config(_Strict):
    # The file this configuration was read from (None: built-in defaults); messages name it.
    _source: Path | None = PrivateAttr(None)

    version: Literal[1] = 1
    defaults: PolicyFields = Field(default_factory=PolicyFields)
    images: list[ImageRule] = Field(default_factory=list)
    registries: dict[str, RegistryConfig] = Field(default_factory=dict)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    git: GitConfig = Field(default_factory=GitConfig)
    platform: str = Field("linux/amd64", description="default platform for multi-arch images")
    concurrency: int = Field(8, ge=1, le=64, description="repositories checked at once")
    advisories: AdvisoriesConfig = Field(default_factory=AdvisoriesConfig)
    schedule: ScheduleConfig | None = Field(
        None, description="when `update` may change files, commit, push or open PRs"
    )
    serve: ServeConfig = Field(
        default_factory=ServeConfig, description="`patchwarden serve`: jobs, hooks, notifications"
    )
