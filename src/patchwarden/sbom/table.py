"""The human report: "what can I actually fix?" first, grouped by package, 100 columns wide.

Plain text (the CLI adds colour); one header line per package, its vulnerabilities indented
below it, highest severity first.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence

from patchwarden.core.digest import short_hex
from patchwarden.core.words import plural
from patchwarden.sbom.model import (
    SEVERITY_ORDER,
    ScanReport,
    Upgrade,
    severity_counts,
    sorted_findings,
    sorted_packages,
    upgrades,
)
from patchwarden.scan.model import Finding, FindingStatus, Package, Severity

WIDTH = 100
_SECTIONS = (
    (FindingStatus.FIXED, "Upgrade available"),
    (FindingStatus.NO_FIX, "No fix exists"),
    (FindingStatus.WILL_NOT_FIX, "Will not fix"),
)


def _short(digest: str | None) -> str:
    return short_hex(digest) if digest else "-"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def header(report: ScanReport) -> str:
    inv = report.inventory
    image = inv.image
    parts = [image.name]
    if image.digest:
        parts.append(f"@{_short(image.digest)}")
    if image.platform:
        parts.append(f" ({image.platform})")
    os_name = "unknown OS"
    if inv.os:
        os_name = inv.os.pretty_name or " ".join(x for x in (inv.os.id, inv.os.version_id) if x)
    counts = f"{plural(len(inv.packages), 'package')}, {plural(len(image.layers), 'layer')}"
    return "".join(parts) + "\n" + f"{os_name}, {counts}"


def _groups(findings: Sequence[Finding]) -> list[tuple[Package, list[Finding]]]:
    by_pkg: dict[tuple[str, str, str, str], list[Finding]] = {}
    pkgs: dict[tuple[str, str, str, str], Package] = {}
    for f in sorted_findings(findings):
        key = (f.package.name, f.installed_version, f.package.path, f.package.purl)
        by_pkg.setdefault(key, []).append(f)
        pkgs[key] = f.package
    groups = [(pkgs[k], fs) for k, fs in by_pkg.items()]
    groups.sort(key=lambda g: (-g[1][0].severity.rank, -len(g[1]), g[0].name))
    return groups


def _fixes(f: Finding) -> tuple[str, ...]:
    return f.fixed_versions or ((f.fixed_version,) if f.fixed_version else ())


def installed_text(f: Finding) -> str:
    """``name version  (type; source SRC [SRCVER])``: the source package is named when the
    records were matched on it, with its version when that is not the binary's."""
    p = f.package
    src = p.source_name if p.source_name and p.source_name != p.name else None
    extra = ""
    if src or f.matched_version:
        extra = f"; source {src or p.name}" + (f" {f.matched_version}" if f.matched_version else "")
    return f"{p.name} {f.installed_version}  ({p.type.value}{extra})"


def _section(
    status: FindingStatus,
    title: str,
    findings: Sequence[Finding],
    width: int,
    advice: dict[tuple[str, str], Upgrade],
) -> list[str]:
    groups = _groups(findings)
    counts = f"{plural(len(groups), 'package')}, {plural(len(findings), 'vulnerability')}"
    lines = [f"{title} ({counts})"]
    for pkg, fs in groups:
        fixes = list(dict.fromkeys(v for f in fs for v in _fixes(f)))
        lines.append(_clip(f"  {installed_text(fs[0])}", width))
        up = advice.get((pkg.name, pkg.path))
        if status == FindingStatus.FIXED and up is not None:
            these = (
                "it"
                if up.total == 1
                else f"{up.fixes} of these"
                if up.fixes < up.total
                else (f"all {up.total}")
            )
            lines.append(_clip(f"    upgrade to {up.target} fixes {these}", width))
        lines.append(_clip(f"    in /{pkg.path}, layer {_short(pkg.layer)}", width))
        for f in fs:
            text = f"    {f.severity.value:<8}  {f.id}"
            if len(fixes) > 1 and f.fixed_version:
                text += f"  fixed in {f.fixed_version}"
            if f.summary:
                text += f"  {_one_line(f.summary)}"
            lines.append(_clip(text, width))
    return lines


def summary_line(report: ScanReport) -> str:
    counts = severity_counts(report.findings)
    rated = [s for s in SEVERITY_ORDER if s is not Severity.UNKNOWN and counts[s.value]]
    detail = ", ".join(f"{counts[s.value]} {s.value}" for s in rated)
    fixable = sum(1 for f in report.findings if f.status == FindingStatus.FIXED)
    line = plural(len(report.findings), "vulnerability")
    line += f": {detail}" if detail else ""
    line += f"; {fixable} fixable"
    if counts[Severity.UNKNOWN.value]:
        line += f", {counts[Severity.UNKNOWN.value]} unrated"
    if report.ignored:
        line += f", {len(report.ignored)} ignored"
    if report.filters.hidden:
        line += f", {report.filters.hidden} filtered"
    return line


def _vulnerability_report(report: ScanReport, width: int) -> list[str]:
    lines: list[str] = []
    advice = {(u.package.name, u.package.path): u for u in upgrades(report.findings)}
    for status, title in _SECTIONS:
        fs = [f for f in report.findings if f.status == status]
        if fs:
            lines += ["", *_section(status, title, fs, width, advice)]
    if not report.findings:
        lines += ["", "No vulnerabilities found."]
    if report.ignored:
        lines += ["", f"Ignored ({len(report.ignored)})"]
        for i in sorted(report.ignored, key=lambda i: (i.finding.id, i.finding.package.name)):
            lines.append(
                _clip(
                    f"  {i.finding.id}  {i.finding.package.name}  until "
                    f"{i.expires.isoformat()}: {_one_line(i.reason)}",
                    width,
                )
            )
    lines += ["", *textwrap.wrap(summary_line(report), width)]
    return lines


def _package_report(report: ScanReport, width: int) -> list[str]:
    pkgs = sorted_packages(report.inventory.packages)
    counts = Counter(p.type.value for p in pkgs)
    lines: list[str] = []
    for kind in sorted(counts):
        rows = [p for p in pkgs if p.type.value == kind]
        name_w = min(40, max(len(p.name) for p in rows))
        ver_w = min(30, max(len(p.version) for p in rows))
        lines += ["", f"{kind} ({counts[kind]})"]
        for p in rows:
            lines.append(
                _clip(f"  {p.name.ljust(name_w)}  {p.version.ljust(ver_w)}  {p.path}", width)
            )
    if not pkgs:
        lines += ["", "No packages found."]
    detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    lines += ["", f"{plural(len(pkgs), 'package')}" + (f": {detail}" if detail else "")]
    return lines


def write_table(report: ScanReport, width: int = WIDTH) -> str:
    lines = [_clip(line, width) for line in header(report).splitlines()]
    if report.matched:
        lines += _vulnerability_report(report, width)
    else:
        lines += _package_report(report, width)
    return "\n".join(lines) + "\n"
