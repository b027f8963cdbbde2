"""Pydantic models of the OSV schema (https://ossf.github.io/osv-schema/), tolerant of extras.

Only ``id`` is required; unknown fields are kept (``extra="allow"``) so a newer schema
version still parses. ``modified`` is kept as the string it was published with and
normalised by :func:`normalize_timestamp` for ordering.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "Affected",
    "Event",
    "OSVPackage",
    "OSVRecord",
    "Range",
    "Reference",
    "SeverityEntry",
    "normalize_timestamp",
    "parse_record",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class SeverityEntry(_Model):
    type: str  # CVSS_V2 | CVSS_V3 | CVSS_V4 | Ubuntu
    score: str

    @field_validator("score", mode="before")
    @classmethod
    def _str(cls, v: object) -> object:
        return str(v) if isinstance(v, int | float) else v


class Event(_Model):
    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None


class Range(_Model):
    type: str  # ECOSYSTEM | SEMVER | GIT
    repo: str | None = None
    events: list[Event] = Field(default_factory=list)
    database_specific: dict[str, Any] | None = None


class OSVPackage(_Model):
    ecosystem: str
    name: str
    purl: str | None = None


class Affected(_Model):
    package: OSVPackage | None = None
    severity: list[SeverityEntry] = Field(default_factory=list)
    ranges: list[Range] = Field(default_factory=list)
    versions: list[str] = Field(default_factory=list)
    ecosystem_specific: dict[str, Any] | None = None
    database_specific: dict[str, Any] | None = None


class Reference(_Model):
    type: str = "WEB"
    url: str


class OSVRecord(_Model):
    id: str
    schema_version: str | None = None
    modified: str = ""
    published: str | None = None
    withdrawn: str | None = None
    aliases: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list)
    upstream: list[str] = Field(default_factory=list)
    summary: str = ""
    details: str = ""
    severity: list[SeverityEntry] = Field(default_factory=list)
    affected: list[Affected] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    database_specific: dict[str, Any] | None = None

    @field_validator(
        "aliases", "related", "upstream", "severity", "affected", "references", mode="before"
    )
    @classmethod
    def _null(cls, v: object) -> object:
        return [] if v is None else v

    @field_validator("summary", "details", mode="before")
    @classmethod
    def _null_text(cls, v: object) -> object:
        return "" if v is None else v


def normalize_timestamp(value: str | None) -> str:
    """An RFC 3339 timestamp as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC), comparable as a string.

    Empty or unparseable input gives ``""`` (sorts before every real timestamp).
    """
    if not value:
        return ""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python < 3.11 style limits: trim fractional seconds beyond microseconds.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = head + "." + tail[: min(digits, 6)].ljust(6, "0") + tail[digits:]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_record(data: bytes | str | dict[str, Any]) -> OSVRecord:
    """Parse one OSV record; raises ``ValueError`` with a short reason when it is not one."""
    try:
        obj = json.loads(data) if isinstance(data, bytes | str) else data
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("not an OSV record (the top level is not an object)")
    try:
        return OSVRecord.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ValueError(f"not an OSV record: {where}: {first['msg']}") from None
