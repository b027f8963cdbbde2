"""CVSS scores from NVD and CVE records, for ``db import``: the last source of severity.

Two formats are recognised (anything else is left to the OSV parser):

* **NVD CVE API 2.0** (``https://services.nvd.nist.gov/rest/json/cves/2.0`` responses and the
  NVD JSON 2.0 data feeds): ``{"vulnerabilities": [{"cve": {"id", "metrics": {
  "cvssMetricV40" | "cvssMetricV31" | "cvssMetricV30" | "cvssMetricV2": [{"source", "type",
  "cvssData": {"vectorString", "baseScore"}}]}}}]}``, or one such ``cve`` item alone (the
  per-CVE files of NVD JSON 2.0 mirrors).
* **CVE JSON 5.x** (cve.org / CVEProject cvelistV5 records): ``{"dataType": "CVE_RECORD",
  "cveMetadata": {"cveId"}, "containers": {"cna": {"metrics": [{"cvssV4_0" | "cvssV3_1" |
  "cvssV3_0" | "cvssV2_0": {"vectorString", "baseScore"}}]}, "adp": [{"metrics": [...]}]}}``.

Every vector is scored again with the ``cvss`` library (the published ``baseScore`` is used
only when the vector does not parse); which score wins is decided when matching
(:mod:`patchwarden.advisories.enrich`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from patchwarden.advisories.rows import CveMetric
from patchwarden.advisories.severity import cvss_score

_NVD_KINDS = {
    "cvssMetricV40": "CVSS_V4",
    "cvssMetricV31": "CVSS_V3",
    "cvssMetricV30": "CVSS_V3",
    "cvssMetricV2": "CVSS_V2",
}
_CVE5_KINDS = {
    "cvssV4_0": "CVSS_V4",
    "cvssV3_1": "CVSS_V3",
    "cvssV3_0": "CVSS_V3",
    "cvssV2_0": "CVSS_V2",
}


def kind_of(document: object) -> str | None:
    """``"NVD"``, ``"CVE"`` or None (not an NVD/CVE document: try OSV)."""
    if not isinstance(document, Mapping):
        return None
    if document.get("dataType") == "CVE_RECORD" or "cveMetadata" in document:
        return "CVE"
    if "sourceIdentifier" in document and str(document.get("id", "")).startswith("CVE-"):
        return "NVD"  # one NVD API 2.0 ``cve`` item (OSV records have no sourceIdentifier)
    vulns = document.get("vulnerabilities")
    if isinstance(vulns, list) and vulns and isinstance(vulns[0], Mapping) and "cve" in vulns[0]:
        return "NVD"
    if "format" in document and str(document.get("format", "")).startswith("NVD_CVE"):
        return "NVD"
    return None


def _metric(cve: str, kind: str, data: object, source: str, origin: str) -> CveMetric | None:
    if not isinstance(data, Mapping):
        return None
    vector = str(data.get("vectorString") or "")
    score = cvss_score(kind, vector) if vector else None
    if score is None:
        try:
            score = float(data.get("baseScore"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
    return CveMetric(cve, kind, vector, score, source, origin)


def nvd_metrics(document: Mapping[str, Any]) -> Iterable[CveMetric]:
    items = document.get("vulnerabilities") or [{"cve": document}]
    for item in items:
        cve = item.get("cve") if isinstance(item, Mapping) else None
        if not isinstance(cve, Mapping) or not isinstance(cve.get("id"), str):
            continue
        metrics = cve.get("metrics") or {}
        for key, kind in _NVD_KINDS.items():
            for entry in metrics.get(key) or []:
                if not isinstance(entry, Mapping):
                    continue
                source = str(entry.get("source") or "nvd")
                found = _metric(cve["id"], kind, entry.get("cvssData"), source, "NVD")
                if found:
                    yield found


def cve5_metrics(document: Mapping[str, Any]) -> Iterable[CveMetric]:
    cve = (document.get("cveMetadata") or {}).get("cveId")
    if not isinstance(cve, str):
        return
    containers = document.get("containers") or {}
    blocks = [("cna", containers.get("cna") or {})]
    blocks += [("adp", adp) for adp in containers.get("adp") or [] if isinstance(adp, Mapping)]
    for role, block in blocks:
        meta = block.get("providerMetadata") or {}
        source = str(meta.get("shortName") or meta.get("orgId") or role)
        for entry in block.get("metrics") or []:
            if not isinstance(entry, Mapping):
                continue
            for key, kind in _CVE5_KINDS.items():
                found = _metric(cve, kind, entry.get(key), source, "CVE")
                if found:
                    yield found


def metrics_of(document: Mapping[str, Any], kind: str) -> list[CveMetric]:
    return list(nvd_metrics(document) if kind == "NVD" else cve5_metrics(document))
