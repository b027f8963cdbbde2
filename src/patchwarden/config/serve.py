"""The ``serve:`` section of ``patchwarden.yaml``.

Documented in docs/configuration.md and docs/commands/serve.md.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from patchwarden.config.fields import Strict, duration_value


class JobName(StrEnum):
    """Job kinds ``serve`` runs (each a function in ``service.kinds.KINDS``). ``check``:
    inventory and check of the paths (and the engine's containers); ``apply``: carry out
    approved updates of containers; ``scan``: store the SBOM of every known image not stored
    yet; ``advisory-refresh``: update the advisory index and re-match the stored SBOMs;
    ``update``: open pull requests for the paths' outdated references; ``engine-update``:
    propose (or, without approvals, carry out) container updates; ``rebuild``: rebuild the
    configured builds that are due; ``rollout``: advance the rollouts in progress;
    ``retention``: apply the configured retention rules."""

    CHECK = "check"
    APPLY = "apply"
    SCAN = "scan"
    ADVISORY_REFRESH = "advisory-refresh"
    UPDATE = "update"
    ENGINE_UPDATE = "engine-update"
    REBUILD = "rebuild"
    ROLLOUT = "rollout"
    RETENTION = "retention"


class Event(StrEnum):
    UPDATE_AVAILABLE = "update-available"
    UPDATE_APPLIED = "update-applied"
    ROLLBACK = "rollback"
    JOB_FAILED = "job-failed"
    NEW_VULNERABILITY = "new-vulnerability"  # an advisory refresh found one in a known image
    JOB_CHANGED = "job-changed"  # a job made changes: PRs opened, images rebuilt, tags deleted


# Variables a notification template may use ($name or ${name}), per event. Every event also has
# $event, $title and $body (the default title and text).
COMMON_VARIABLES = ("event", "title", "body")
EVENT_VARIABLES: dict[Event, tuple[str, ...]] = {
    Event.UPDATE_AVAILABLE: (
        "image",
        "where",
        "current",
        "candidate",
        "kind",
        "reason",
        "update_id",
    ),
    Event.UPDATE_APPLIED: ("container", "image", "state", "result", "update_id"),
    Event.ROLLBACK: ("container", "image", "state", "result", "update_id"),
    Event.JOB_FAILED: ("job", "summary"),
    Event.NEW_VULNERABILITY: ("image", "digest", "where", "ids", "count", "details"),
    Event.JOB_CHANGED: ("job", "changes", "summary"),
}


def cron_expression(v: str) -> str:
    """``v`` when it is a 5-field cron expression, else a ValueError saying what is expected."""
    from croniter import croniter

    if len(v.split()) != 5 or not croniter.is_valid(v):
        raise ValueError(f"invalid cron expression {v!r}: use 5 fields, e.g. '* 22-23,0-5 * * 1-5'")
    return v


def time_zone(v: str) -> str:
    """``v`` when it is a known IANA time zone name."""
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(v)
    except Exception:
        raise ValueError(
            f"unknown time zone {v!r}: use an IANA name such as Europe/Berlin"
        ) from None
    return v


class JobSchedule(Strict):
    cron: str = Field(description="5-field cron: when the job is due")
    timezone: str = Field("UTC", description="IANA time zone the cron is read in")
    jitter: timedelta = Field(
        timedelta(0), description="each run starts up to this much after its due time"
    )
    missed: Literal["run-once", "skip"] = Field(
        "run-once",
        description="runs missed while serve was down: run once at start-up, or skip them",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="parameters of the job kind (docs/commands/serve.md lists them per kind)",
    )

    _c = field_validator("cron")(classmethod(lambda cls, v: cron_expression(v)))
    _t = field_validator("timezone")(classmethod(lambda cls, v: time_zone(v)))
    _j = field_validator("jitter", mode="before")(classmethod(lambda cls, v: duration_value(v)))


class Window(Strict):
    cron: str = Field(description="5-field cron; a moment inside the window matches every field")
    timezone: str = "UTC"

    _c = field_validator("cron")(classmethod(lambda cls, v: cron_expression(v)))
    _t = field_validator("timezone")(classmethod(lambda cls, v: time_zone(v)))


class PolicySchedule(Window):
    """When changes to matching images may happen: an approved container update, or a pull
    request of the ``update`` job, of an image matching ``match`` waits until ``cron`` (in
    ``timezone``) matches, on top of the maintenance windows."""

    match: str = Field(description="glob on the normalized image name, e.g. docker.io/library/*")


class HooksConfig(Strict):
    token_env: str | None = Field(
        "PATCHWARDEN_HOOK_TOKEN",
        description="env var with the shared secret webhooks must present "
        "(Authorization: Bearer, or an X-Hub-Signature-256 HMAC of the body)",
    )
    pull: bool = Field(
        True,
        description="on a git push webhook, fast-forward (git pull --ff-only) the watched "
        "checkouts that are on the pushed branch before re-inventorying them",
    )


class MessageTemplate(Strict):
    """A notification's title and text for one event, in ``string.Template`` syntax
    (``$image``, ``${image}``; ``$$`` is a dollar sign). Unset parts keep the default."""

    title: str | None = None
    body: str | None = None


def check_template(event: Event, tpl: MessageTemplate) -> None:
    """Raise ValueError when ``tpl`` is malformed or names a variable ``event`` lacks."""
    from string import Template

    allowed = set(COMMON_VARIABLES) | set(EVENT_VARIABLES[event])
    for part in ("title", "body"):
        text = getattr(tpl, part)
        if text is None:
            continue
        t = Template(text)
        if not t.is_valid():
            raise ValueError(
                f"{event.value}.{part}: malformed template (a lone $?): write $$ for a dollar"
            )
        unknown = sorted(set(t.get_identifiers()) - allowed)
        if unknown:
            raise ValueError(
                f"{event.value}.{part}: unknown variable ${unknown[0]}; "
                f"{event.value} has: {', '.join('$' + v for v in sorted(allowed))}"
            )


class NotifyRoute(Strict):
    url_env: str = Field(
        description="env var holding one or more Apprise URLs (they carry credentials)"
    )
    events: list[Event] = Field(default_factory=lambda: list(Event))
    title_prefix: str = "patchwarden"


class ServeConfig(Strict):
    listen: str = Field("127.0.0.1:8080", description="HOST:PORT the HTTP server binds")
    state: str | None = Field(None, description="state store path or URL (else PATCHWARDEN_STATE)")
    engine: str | None = Field(
        None, description="Docker-API URL: also check running containers, apply approved updates"
    )
    jobs: dict[JobName, JobSchedule] = Field(default_factory=dict)
    maintenance_windows: list[Window] = Field(
        default_factory=list, description="apply changes only inside one of these windows"
    )
    schedules: list[PolicySchedule] = Field(
        default_factory=list,
        description="per image policy: when changes to matching images may happen",
    )
    approvals: bool = Field(
        True, description="container updates wait for an approval through the API or dashboard"
    )
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    notify: list[NotifyRoute] = Field(default_factory=list)
    templates: dict[Event, MessageTemplate] = Field(
        default_factory=dict,
        description="per event: the notification's title and text (docs/commands/serve.md "
        "lists each event's variables)",
    )
    admin_token: SecretStr | None = Field(
        None, description="prefer PATCHWARDEN_API_TOKEN; a token in a file is a token in git"
    )
    auth_failures_per_minute: int = Field(10, ge=1, le=1000)
    log_format: Literal["text", "json"] = "text"
    alert_severity: Literal["critical", "high", "medium", "low", "unknown"] = Field(
        "high",
        description="new-vulnerability alerts for findings at or above this severity",
    )

    @field_validator("jobs")
    @classmethod
    def _job_params(cls, v: dict[JobName, JobSchedule]) -> dict[JobName, JobSchedule]:
        from patchwarden.config.jobparams import check_params

        check_params({kind.value: sched.params for kind, sched in v.items()})
        return v

    @field_validator("templates")
    @classmethod
    def _templates(cls, v: dict[Event, MessageTemplate]) -> dict[Event, MessageTemplate]:
        for event, tpl in v.items():
            check_template(event, tpl)
        return v

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}", v) or not (
            0 < int(v.rsplit(":", 1)[1]) < 65536
        ):
            raise ValueError(f"invalid listen address {v!r}: use HOST:PORT, e.g. 127.0.0.1:8080")
        return v
