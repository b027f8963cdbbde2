"""The metrics gate's source: instant PromQL queries against a Prometheus server's HTTP API."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import httpx

from patchwarden.errors import PatchwardenError
from patchwarden.net.http import make_client
from patchwarden.net.redact import redact_url

MAX_BODY = 4 * 1024 * 1024


class MetricsError(PatchwardenError):
    """The metrics source could not answer a query."""


@dataclass(frozen=True, slots=True)
class Sample:
    labels: dict[str, str]
    value: float


class MetricsSource(Protocol):
    def query(self, base_url: str, promql: str) -> list[Sample]: ...


class Prometheus:
    """``GET /api/v1/query``; vector and scalar results become samples."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or make_client(connect_timeout=5.0, read_timeout=15.0)

    def query(self, base_url: str, promql: str) -> list[Sample]:
        url = base_url.rstrip("/") + "/api/v1/query"
        shown = redact_url(base_url)
        try:
            res = self._client.get(url, params={"query": promql})
        except httpx.HTTPError as exc:
            raise MetricsError(
                f"Prometheus at {shown} did not answer: {type(exc).__name__}",
                "check gates.metrics.prometheus and that the server is reachable",
                transient=True,
            ) from None
        if len(res.content) > MAX_BODY:
            raise MetricsError(f"Prometheus at {shown} answered more than {MAX_BODY} bytes")
        try:
            doc = res.json()
        except ValueError:
            raise MetricsError(
                f"Prometheus at {shown} answered HTTP {res.status_code} without JSON"
            ) from None
        if doc.get("status") != "success":
            raise MetricsError(
                f"Prometheus rejected the query: {doc.get('errorType')}: {doc.get('error')}",
                "check gates.metrics.query (PromQL)",
            )
        return _samples(doc.get("data") or {})


def _samples(data: dict[str, object]) -> list[Sample]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list):
        return [Sample({}, _float(result[1]))]
    if kind == "vector" and isinstance(result, list):
        return [
            Sample(dict(r.get("metric") or {}), _float((r.get("value") or [0, "NaN"])[1]))
            for r in result
            if isinstance(r, dict)
        ]
    raise MetricsError(f"the query gave a {kind} result: the metrics gate needs an instant vector")


def _float(text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        return math.nan


def within(value: float, low: float | None, high: float | None) -> bool:
    """``value`` inside the bounds; NaN never is."""
    if math.isnan(value):
        return False
    return (low is None or value >= low) and (high is None or value <= high)
