"""Severity for findings their own records do not rate: never silently ``unknown``.

Order (the first that rates the finding wins; the record's own rating, decided in
:func:`patchwarden.advisories.severity.assess`, always comes first, so a distribution's own
severity is preferred for its packages, as Trivy does):

1. **alias records** in the index: any other record that answers to the finding's CVE or
   GHSA id (a DSA whose CVE a GHSA record scores), rated by the same rules as the
   finding's ecosystem; the best-ranked source wins (distro, CVSS v3, v4, v2, the
   database's word); ``severity_source`` is ``"<source> via <record id>"``.
2. **NVD / CVE data** imported with ``db import`` (:mod:`.cve_import`): CVSS v3.x before v4
   before v2, NVD's own scores before a CNA's; the rating is the CVSS band of the base score
   computed from the vector by the ``cvss`` library; ``severity_source`` is
   ``"nvd cvss_v3"`` or ``"cve cvss_v3"`` (a CVE JSON 5 record).

Findings nothing rates stay ``unknown``: reports count them ("N unrated") and gates treat
them per ``advisories.unknown_severity``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from patchwarden.advisories.severity import assess, rating
from patchwarden.scan.model import Finding, Severity
from patchwarden.versions.ecosystems import ecosystem_base

if TYPE_CHECKING:
    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.advisories.rows import CveMetric

SOURCE_RANK = {"distro": 5, "cvss_v3": 4, "cvss_v4": 3, "cvss_v2": 2, "database_specific": 1}
_KIND_RANK = {"CVSS_V3": 3, "CVSS_V4": 2, "CVSS_V2": 1}
_GLOBAL_IDS = ("CVE-", "GHSA-")


def _metric_rank(m: CveMetric) -> tuple[int, int, float, str, str]:
    return (_KIND_RANK.get(m.kind, 0), 1 if m.origin == "NVD" else 0, m.score, m.cve_id, m.source)


def enrich(index: AdvisoryIndex, findings: list[Finding]) -> list[Finding]:
    """``findings`` with unknown severities filled in where any imported source rates them."""
    todo = [i for i, f in enumerate(findings) if f.severity is Severity.UNKNOWN]
    if not todo:
        return findings
    # Records that share a finding's CVE or GHSA id; the vendors' own ids (DSA-, USN-,
    # ALPINE-CVE-, PYSEC-) of the same package are merged into the finding already.
    keys = {
        i: {k for k in (findings[i].id, *findings[i].aliases) if k.startswith(_GLOBAL_IDS)}
        for i in todo
    }
    # only keys some OTHER record answers to can help: ask for keys two records share
    shared = index.records_by_alias(list(set().union(*keys.values())), shared=True)
    others: dict[int, list[str]] = {}
    for i in todo:
        hits = [r for k in keys[i] if k in shared for r in shared[k]]
        if hits:
            others[i] = sorted(set(hits) - set(findings[i].records))
    records = index.records(list({r for ids in others.values() for r in ids}))
    metrics = {}
    if index.has_cve_metrics():
        metrics = index.cve_metrics([k for ks in keys.values() for k in ks if k[:4] == "CVE-"])
    out = list(findings)
    for i in todo:
        f = findings[i]
        best: tuple[int, int, Severity, str, float | None] | None = None
        for rid in others.get(i, ()):
            rec = records.get(rid)
            if rec is None or rec.withdrawn:
                continue
            base = ecosystem_base(f.ecosystem)
            sev, src, score = assess(base, {}, rec.severity, rec.database_specific)
            if sev is Severity.UNKNOWN:
                continue
            cand = (SOURCE_RANK.get(src, 0), sev.rank, sev, f"{src} via {rid}", score)
            if best is None or cand[:2] > best[:2]:
                best = cand
        if best is not None:
            out[i] = replace(
                f, severity=best[2], severity_source=best[3], cvss_score=f.cvss_score or best[4]
            )
            continue
        found = [m for k in keys[i] if k in metrics for m in metrics[k]] if metrics else []
        if found:
            m = max(found, key=_metric_rank)
            out[i] = replace(
                f,
                severity=rating(m.kind, m.score),
                severity_source=f"{m.origin.lower()} {m.kind.lower()}",
                cvss_score=f.cvss_score or m.score,
            )
    return out
