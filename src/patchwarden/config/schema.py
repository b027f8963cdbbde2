"""The ``patchwarden.yaml`` schema. Unknown keys are errors (``extra="forbid"``).

Every key is documented in docs/configuration.md; keep the two in step.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from patchwarden.config.queue import QueueConfig, StateConfig
from patchwarden.config.regexes import check_regexes
from patchwarden.config.retention import RetentionRule
from patchwarden.config.rollout import Environment, unique_names
from patchwarden.config.serve import ServeConfig, cron_expression, time_zone
from patchwarden.config.trust import KeylessIdentity
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


MAX_TIMEOUT = timedelta(hours=1)


class TimeoutConfig(_Strict):
    """Network time limits of registry requests. A bare duration (``timeout: 20s``) is the
    overall limit; ``connect`` and ``read`` never exceed it."""

    connect: Duration | None = Field(None, description="to open a connection (TCP and TLS)")
    read: Duration | None = Field(None, description="between two reads (restarts on each byte)")
    overall: Duration | None = Field(
        None, description="per request attempt, headers and body, whatever the server's pace"
    )

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"overall": data}

    @field_validator("connect", "read", "overall")
    @classmethod
    def _bounds(cls, v: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if v is not None and v <= timedelta(0):
            raise ValueError(f"{info.field_name} must be more than 0s (e.g. 10s), not {v}")
        if v is not None and v > MAX_TIMEOUT:
            raise ValueError(f"{info.field_name} may be at most 1h, not {v}")
        return v

    @model_validator(mode="after")
    def _within_overall(self) -> TimeoutConfig:
        for name in ("connect", "read"):
            part = getattr(self, name)
            if part is not None and self.overall is not None and part > self.overall:
                raise ValueError(
                    f"{name} ({part}) is longer than overall ({self.overall}): "
                    f"a request ends at overall; lower {name} or raise overall"
                )
        return self


class RegistryConfig(_Strict):
    insecure: bool = False
    tls_verify: bool = True
    ca_file: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None
    max_concurrency: int = Field(8, ge=1, le=64)
    timeout: TimeoutConfig | None = Field(
        None, description="this registry's time limits (else the top-level timeout)"
    )
    mirrors: list[str] = Field(
        default_factory=list,
        description="pull-through mirrors (host[:port][/prefix]) read before this registry; "
        "digests are verified either way",
    )

    @field_validator("mirrors")
    @classmethod
    def _mirrors(cls, v: list[str]) -> list[str]:
        for m in v:
            if not re.fullmatch(r"[A-Za-z0-9.\-]+(:[0-9]+)?(/[a-z0-9._/\-]+)?", m):
                raise ValueError(f"invalid mirror {m!r}: expected host[:port][/path-prefix]")
        return v


def _key_source(v: str, info: ValidationInfo) -> str:
    """Inline PEM/armored keys stay as they are; paths become absolute (relative to the
    config file's directory)."""
    if v.lstrip().startswith("-----BEGIN"):
        return v
    base = (info.context or {}).get("base_dir")
    p = Path(v).expanduser()
    return str(p if p.is_absolute() or base is None else Path(base) / p)


class TrustRule(_Strict):
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


class BuildTest(_Strict):
    """One command run inside the new image (``podman run --rm IMAGE CMD...``)."""

    name: str | None = Field(None, description="shown in the report; default: the command")
    run: list[str] = Field(min_length=1, description="argv, run without a shell")
    timeout: Duration = Field(timedelta(minutes=2), description="the test fails past this")
    exit_code: int = Field(0, description="expected exit status")
    stdout_contains: str | None = Field(None, description="text the output must contain")


class FileAssertion(_Strict):
    """A file in the new image (container-structure-test style)."""

    path: str = Field(description="absolute path inside the image")
    exists: bool = True
    contains: str | None = Field(None, description="text the file must contain")

    @field_validator("path")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"file assertion path {v!r} must be absolute (start with /)")
        return v


class HealthProbe(_Strict):
    """Start the image and wait for an HTTP endpoint to answer 2xx/3xx."""

    port: int = Field(ge=1, le=65535, description="container port to publish on loopback")
    path: str = "/"
    timeout: Duration = timedelta(seconds=30)


NewVulnGate = Literal["critical", "high", "medium", "low", "any", "off"]


class BuildGates(_Strict):
    new_vulnerabilities: NewVulnGate = Field(
        "high",
        description="stop the push when the new image introduces a vulnerability at or above "
        "this severity (any: every new one; off: no scan gate)",
    )


TAG_FIELDS = ("version", "date", "n", "revision")


class BuildConfig(_Strict):
    """One image the team builds itself (``rebuild``)."""

    name: str | None = Field(None, description="default: the destination repository")
    context: str = Field(".", description="build context directory, relative to the config")
    dockerfile: str | None = Field(
        None, description="relative to the context; default Containerfile, else Dockerfile"
    )
    target: str | None = Field(None, description="build stage to build")
    build_args: dict[str, str] = Field(default_factory=dict)
    destination: str = Field(description="REGISTRY/REPO the image is pushed to")
    version: str | None = Field(None, description="{version} in the tag; default: base tag")
    tag_scheme: str = Field(
        "{version}-{date}.{n}",
        description="immutable tag; fields {version} {date} {n} {revision}; must contain {n}",
    )
    moving_tag: str | None = Field("latest", description="tag moved to every new build")
    tests: list[BuildTest] = Field(default_factory=list)
    files: list[FileAssertion] = Field(default_factory=list)
    health: HealthProbe | None = None
    gates: BuildGates = Field(default_factory=BuildGates)
    signing_key: str | None = Field(
        None,
        description="private key (cosign or PEM) that signs every pushed build, relative to "
        "the config; password from PATCHWARDEN_SIGNING_PASSWORD or COSIGN_PASSWORD",
    )

    @field_validator("tag_scheme")
    @classmethod
    def _scheme(cls, v: str) -> str:
        fields = re.findall(r"{([^{}]*)}", v)
        unknown = [f for f in fields if f not in TAG_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown field {{{unknown[0]}}} in tag scheme {v!r}: use {{version}}, "
                "{date}, {n}, {revision}"
            )
        if "n" not in fields:
            raise ValueError(
                f"tag scheme {v!r} has no {{n}}: an immutable tag needs the build number"
            )
        return v

    @field_validator("destination")
    @classmethod
    def _destination(cls, v: str) -> str:
        if "@" in v or ":" in v.rsplit("/", 1)[-1] or "/" not in v:
            raise ValueError(
                f"destination {v!r} must be REGISTRY/REPO without tag or digest, "
                "e.g. registry.example.com/team/app"
            )
        return v


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
