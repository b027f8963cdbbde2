"""The ``patchwarden.yaml`` schema. Unknown keys are errors (``extra="forbid"``).

Every key is documented in docs/configuration.md; keep the two in step.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from patchwarden.config.builds import BuildConfig
from patchwarden.config.fields import Duration, Strict
from patchwarden.config.queue import QueueConfig, StateConfig
from patchwarden.config.regexes import check_regexes
from patchwarden.config.registries import RegistryConfig, TimeoutConfig
from patchwarden.config.retention import RetentionRule
from patchwarden.config.rollout import Environment, unique_names
from patchwarden.config.serve import ServeConfig, cron_expression, time_zone
from patchwarden.config.trust import TrustRule

Level = Literal["digest", "patch", "minor", "major"]
Gate = Literal["no-new-critical", "fewer-vulnerabilities", "no-new-vulnerabilities"]
SeverityName = Literal["critical", "high", "medium", "low"]


class PolicyFields(Strict):
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
        check_regexes(v or [])
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


class CacheConfig(Strict):
    dir: str | None = None
    tag_ttl: Duration = timedelta(hours=1)
    enabled: bool = True


class DiscoveryConfig(Strict):
    exclude: list[str] = Field(default_factory=list)
    follow_symlinks: bool = False
    compose_files: list[str] = Field(
        default_factory=list,
        description="gitignore-style patterns of files read as Compose files whatever their name",
    )


class GitConfig(Strict):
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


class AdvisoriesConfig(Strict):
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
    unknown_severity: Literal["block", "allow"] = Field(
        "block",
        description="--fail-on and the gates: does a finding no source rates block (default) "
        "or pass?",
    )
    max_age: Duration = Field(
        timedelta(days=1), description="warn when the index is older than this (default 1d)"
    )
    auto_update: bool = Field(
        False, description="run `db update` first when the index is older than max_age"
    )


class ScheduleConfig(Strict):
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


class Config(Strict):
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
    timeout: TimeoutConfig = Field(
        default_factory=TimeoutConfig,
        description="registry time limits for every registry (--timeout sets overall)",
    )
    advisories: AdvisoriesConfig = Field(default_factory=AdvisoriesConfig)
    schedule: ScheduleConfig | None = Field(
        None, description="when `update` may change files, commit, push or open PRs"
    )
    trust: list[TrustRule] = Field(
        default_factory=list, description="signatures required per image pattern (fail closed)"
    )
    allowed_registries: list[str] | None = Field(
        None, description="written as registries.allowed: globs on normalized image names"
    )
    flags: dict[str, Any] = Field(
        default_factory=dict,
        description="defaults for command-line options, per command (checked by the CLI: "
        "command line > environment > flags: > built-in)",
    )
    retention: list[RetentionRule] = Field(
        default_factory=list, description="what `registry retain` keeps, per repository pattern"
    )

    @model_validator(mode="before")
    @classmethod
    def _registries_allowed(cls, data: Any) -> Any:
        """``registries.allowed`` is a list beside the per-host mappings."""
        if isinstance(data, dict) and isinstance(data.get("registries"), dict):
            regs = dict(data["registries"])
            if "allowed" in regs:
                allowed = regs.pop("allowed")
                if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                    raise ValueError(
                        "registries.allowed must be a list of image-name globs, "
                        "e.g. [registry.example.com/*, docker.io/library/*]"
                    )
                data = {**data, "registries": regs, "allowed_registries": allowed}
        return data

    builds: list[BuildConfig] = Field(
        default_factory=list, description="images `rebuild` builds, tests, scans and pushes"
    )
    environments: list[Environment] = Field(
        default_factory=list, description="where `rollout` carries a digest, in order"
    )

    @field_validator("environments")
    @classmethod
    def _environments(cls, v: list[Environment]) -> list[Environment]:
        return unique_names(v)

    serve: ServeConfig = Field(
        default_factory=ServeConfig, description="`patchwarden serve`: jobs, hooks, notifications"
    )
    queue: QueueConfig = Field(
        default_factory=QueueConfig, description="workers: Celery broker, retries, rate limits"
    )
    state: StateConfig = Field(default_factory=StateConfig, description="the shared state store")
