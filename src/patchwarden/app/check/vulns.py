"""``check --vulns``: which CVEs an update fixes and introduces, and which update to prefer.

For every outdated reference the newest allowed candidate at each level (patch, minor, major,
up to the policy's level) is scanned, like the current image; the per-layer cache makes base
layers shared by the versions free. The recommendation is the smallest update that fixes the
most, among candidates that pass the policy's gates (``require``, ``max_severity``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from patchwarden.cache.registry import SingleFlight
from patchwarden.core.ref import ImageRef
from patchwarden.core.words import plural
from patchwarden.policy.model import Policy, UpdateLevel
from patchwarden.registry.model import Platform
from patchwarden.scan.model import Finding, FindingStatus, Severity, UnknownSeverity, at_least

Key = tuple[str, str]  # (vulnerability id, source package or package)
ScanImage = Callable[[ImageRef, Platform], list[Finding]]


def key(f: Finding) -> Key:
    return (f.id, f.package.source_name or f.package.name)


def by_severity(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(f.severity.value for f in findings)
    return {s.value: counts.get(s.value, 0) for s in Severity}


@dataclass(frozen=True, slots=True)
class Option:
    tag: str
    digest: str
    update: UpdateLevel
    findings: tuple[Finding, ...]
    fixed: tuple[Finding, ...]
    introduced: tuple[Finding, ...]
    gate: str | None = None  # why the policy's gates stop this candidate


@dataclass(frozen=True, slots=True)
class Assessment:
    current: tuple[Finding, ...]
    options: tuple[Option, ...] = ()
    recommended: Option | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def fixable_now(self) -> int:
        """Findings in the current image with a fixed package version available."""
        return sum(1 for f in self.current if f.status == FindingStatus.FIXED)

    def summary(self) -> str:
        cur = len(self.current)
        r = self.recommended
        if not cur and (r is None or not r.introduced):
            return "no known vulnerabilities" + (f" in {r.tag} either" if r else "")
        text = f"{plural(cur, 'known vulnerability')} ({_sev_text(self.current)})"
        if self.recommended is not None:
            r = self.recommended
            text += (
                f"; {r.tag} fixes {len(r.fixed)} ({_sev_text(r.fixed)}) and introduces "
                f"{len(r.introduced)}"
            )
        elif not self.options:
            text += f", {self.fixable_now} fixable by the distro: rebuild the image to pick them up"
        return text


def _sev_text(findings: Sequence[Finding]) -> str:
    counts = by_severity(findings)
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    return ", ".join(parts) if parts else "none"


class VulnAssessor:
    """Scans images (memoised per run) and compares candidates. ``unknown`` is how the gates
    treat unrated findings (``advisories.unknown_severity``); the scan callable applies the
    ignore file, so ignored findings never count, here or in the gates."""

    def __init__(
        self,
        scan: ScanImage,
        unknown: UnknownSeverity = UnknownSeverity.BLOCK,
        warnings: Sequence[str] = (),
    ) -> None:
        self._scan = scan
        self._memo = SingleFlight()
        self.unknown = unknown
        self.warnings = tuple(warnings)  # stale index, expired ignore entries

    def findings(self, image: ImageRef, platform: Platform) -> tuple[Finding, ...]:
        memo_key = f"{image} {platform}"
        return self._memo.get(memo_key, lambda: tuple(self._scan(image, platform)))

    def assess(
        self,
        current: ImageRef,
        candidates: Sequence[tuple[str, str, UpdateLevel]],  # (tag, digest, update level)
        policy: Policy,
        platform: Platform,
    ) -> Assessment:
        now = self.findings(current, platform)
        now_keys = {key(f) for f in now}
        options = []
        for tag, digest, level in candidates:
            found = self.findings(current.with_tag(tag).with_digest(digest), platform)
            found_keys = {key(f) for f in found}
            fixed = tuple(f for f in now if key(f) not in found_keys)
            introduced = tuple(f for f in found if key(f) not in now_keys)
            option = Option(tag, digest, level, found, fixed, introduced)
            options.append(replace(option, gate=gate(option, now, policy, self.unknown)))
        allowed = [o for o in options if o.gate is None]
        best = None
        if allowed:
            most = max(len(o.fixed) for o in allowed)
            best = min(
                (o for o in allowed if len(o.fixed) == most),
                key=lambda o: (len(o.introduced), o.update.rank),
            )
        return Assessment(now, tuple(options), best)


def gate(
    option: Option,
    current: Sequence[Finding],
    policy: Policy,
    unknown: UnknownSeverity = UnknownSeverity.BLOCK,
) -> str | None:
    """The first of the policy's gates that stops ``option``, as a reason, or None. An unrated
    finding counts as critical for the gates when ``unknown`` is block."""
    src = policy.source
    if "no-new-critical" in policy.require:
        crit = [f.id for f in option.introduced if at_least(f.severity, Severity.CRITICAL, unknown)]
        if crit:
            return f"require no-new-critical ({src}): introduces {', '.join(crit[:3])}"
    if "no-new-vulnerabilities" in policy.require and option.introduced:
        ids = ", ".join(f.id for f in option.introduced[:3])
        return f"require no-new-vulnerabilities ({src}): introduces {ids}"
    if "fewer-vulnerabilities" in policy.require and len(option.findings) >= len(current):
        return (
            f"require fewer-vulnerabilities ({src}): {len(option.findings)} vs {len(current)} now"
        )
    if policy.max_severity:
        limit = Severity(policy.max_severity)
        worse = [
            f.id
            for f in option.findings
            if f.severity.rank > limit.rank
            or (f.severity is Severity.UNKNOWN and unknown is UnknownSeverity.BLOCK)
        ]
        if worse:
            return f"max_severity {limit.value} ({src}): carries {', '.join(worse[:3])}"
    return None
