"""What the advisory index stores, as Python values: the rows the matcher reads
(``AffectedRow``, ``StoredRecord``, ``SourceStatus``, ``CveMetric``) and the normalisations
that writing and matching must agree on (record keys, package names, the ``versions`` column)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from patchwarden.core.jsonfmt import loads

_PREFIXED_CVE = re.compile(r"^[A-Z]+-(CVE-\d{4}-\d+)$")


def record_keys(rid: str, aliases: Sequence[str], upstream: Sequence[str]) -> set[str]:
    """Every id a record answers to: its id, aliases, upstream ids, and ``CVE-X`` for a
    distribution's ``UBUNTU-CVE-X``/``ALPINE-CVE-X``/``DEBIAN-CVE-X``."""
    keys = {rid, *aliases, *upstream}
    return keys | {m.group(1) for k in list(keys) if (m := _PREFIXED_CVE.match(k))}


def split_versions(data: dict[str, Any]) -> tuple[str, str | None]:
    """(``data`` without ``versions``, ``versions``) as stored: compact JSON, None if empty."""
    versions = data.pop("versions", None)
    compact = (",", ":")
    return json.dumps(data, separators=compact), (
        json.dumps(versions, separators=compact) if versions else None
    )


@dataclass(frozen=True, slots=True)
class CveMetric:
    """A CVSS vector for a CVE from NVD or a CVE record (``db import`` of NVD/CVE JSON)."""

    cve_id: str
    kind: str  # CVSS_V3 | CVSS_V4 | CVSS_V2
    vector: str
    score: float
    source: str  # who scored it: nvd@nist.gov, the CNA, an ADP
    origin: str  # "NVD" | "CVE"


def normalize_name(ecosystem: str, name: str) -> str:
    """PyPI names per PEP 503; every other ecosystem is exact (npm ``Axios`` != ``axios``)."""
    if ecosystem.split(":", 1)[0] == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class AffectedRow:
    """One ``affected`` entry: ``data`` decoded (without ``package`` and ``versions``), its
    ``versions`` list kept as stored and decoded on the first :meth:`versions` call."""

    record_id: str
    ecosystem: str
    name: str
    data: dict[str, Any]
    versions_json: str | None = None
    _versions: list[str] | None = field(default=None, repr=False, compare=False)

    def versions(self) -> list[str]:
        """The entry's ``versions`` list (empty when it has none)."""
        if self._versions is None:
            self._versions = loads(self.versions_json) if self.versions_json else []
        return self._versions


@dataclass(frozen=True, slots=True)
class StoredRecord:
    id: str
    modified: str
    withdrawn: str | None
    aliases: tuple[str, ...]
    upstream: tuple[str, ...]
    summary: str
    details: str
    severity: tuple[dict[str, str], ...]
    database_specific: dict[str, Any]
    url: str | None


@dataclass(frozen=True, slots=True)
class SourceStatus:
    ecosystem: str
    record_count: int
    imported_at: str | None
    source_url: str | None
    cursor: str | None
    etag: str | None = None
    last_modified: str | None = None
