"""``registries:`` (per host: TLS, credentials, concurrency, mirrors) and ``timeout:``, the
network time limits of registry requests."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from patchwarden.config.fields import Duration, Strict

MAX_TIMEOUT = timedelta(hours=1)


class TimeoutConfig(Strict):
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


class RegistryConfig(Strict):
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
