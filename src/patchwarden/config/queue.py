"""The ``queue:`` and ``state:`` sections of ``patchwarden.yaml``: where ``serve`` hands jobs to
``patchwarden worker`` processes (a Celery broker on Redis) and the state store they share.

Documented in docs/configuration.md and docs/deployment.md.
"""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, field_validator

from patchwarden.config.fields import Strict
from patchwarden.config.rollout import Duration

BROKER_ENV = "PATCHWARDEN_BROKER_URL"
STATE_ENV = "PATCHWARDEN_STATE_URL"


class RateLimit(Strict):
    """A token bucket: ``requests`` per ``per``, at most ``burst`` at once (default: requests)."""

    requests: int = Field(ge=1, le=1_000_000, description="requests allowed per period")
    per: Duration = Field(description="the period, e.g. 6h or 1s")
    burst: int | None = Field(None, ge=1, le=1_000_000, description="bucket size")

    @field_validator("per")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("per must be a positive duration, e.g. 6h")
        return v

    @property
    def rate(self) -> float:
        """Tokens per second."""
        return self.requests / self.per.total_seconds()

    @property
    def capacity(self) -> int:
        return self.burst or self.requests


class QueueConfig(Strict):
    broker_url: str | None = Field(
        None,
        description="Celery broker (redis://HOST:6379/0); unset: jobs run inside serve "
        f"(else ${BROKER_ENV})",
    )
    visibility_timeout: Duration = Field(
        timedelta(minutes=5),
        description="a job taken by a worker that died is handed to another after this",
    )
    time_limit: Duration = Field(
        timedelta(minutes=30), description="a job running longer is stopped and retried"
    )
    max_retries: int = Field(5, ge=0, le=100, description="retries before the dead-letter list")
    retry_backoff: Duration = Field(
        timedelta(seconds=10), description="first retry delay; doubles per retry, at most 10m"
    )
    shard_size: int = Field(
        20,
        ge=0,
        le=100_000,
        description="a whole-fleet check or scan is queued as one task per this many repositories "
        "(0: one task)",
    )
    rate_limits: dict[str, RateLimit] = Field(
        default_factory=dict,
        description="registry host -> token bucket shared by serve and every worker",
    )

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"rediss?://", v):
            raise ValueError(
                f"unsupported broker URL scheme in {v.split('://')[0]!r}: "
                "use redis://HOST:PORT/DB or rediss:// (TLS)"
            )
        return v

    @field_validator("visibility_timeout", "time_limit", "retry_backoff")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("must be a positive duration, e.g. 30s")
        return v


class StateConfig(Strict):
    url: str | None = Field(
        None,
        description="state store shared by serve and workers: a SQLite path or "
        f"postgresql+psycopg:// URL (else ${STATE_ENV})",
    )
