"""The vulnerability gates and the candidate choice of check --vulns / update --vulns."""

from __future__ import annotations

from patchwarden.app.check.results import CheckResult, Status, Version
from patchwarden.app.check.vulns import Assessment, Option, gate
from patchwarden.app.check.with_vulns import _choose
from patchwarden.core.ref import parse_reference
from patchwarden.policy.model import Policy, UpdateLevel
from patchwarden.refs.model import Reference, RefKind
from patchwarden.scan.model import (
    Finding,
    FindingStatus,
    Package,
    PackageType,
    Severity,
    UnknownSeverity,
)

PKG = Package("openssl", "3.0.11", PackageType.DEB, "pkg:deb/debian/openssl", "sha256:l", "p")


def f(vid: str, sev: Severity) -> Finding:
    return Finding(vid, (), PKG, "3.0.11", None, FindingStatus.NO_FIX, sev, "Debian:12")


def option(tag: str, fixed: int, introduced: tuple[Finding, ...] = ()) -> Option:
    fixes = tuple(f(f"CVE-{tag}-{i}", Severity.LOW) for i in range(fixed))
    return Option(tag, f"sha256:{tag}", UpdateLevel.MINOR, introduced, fixes, introduced)


def test_unrated_findings_block_the_gates_unless_allowed() -> None:
    unrated = option("2.0", 0, (f("CVE-9", Severity.UNKNOWN),))
    strict = Policy(require=("no-new-critical",), source="images[0]")
    assert gate(unrated, [], strict, UnknownSeverity.BLOCK) is not None
    assert gate(unrated, [], strict, UnknownSeverity.ALLOW) is None
    capped = Policy(max_severity="high", source="images[0]")
    assert "max_severity high" in (gate(unrated, [], capped, UnknownSeverity.BLOCK) or "")
    assert gate(unrated, [], capped, UnknownSeverity.ALLOW) is None


def _result(tag: str) -> CheckResult:
    return CheckResult(
        reference=Reference(
            "Dockerfile", 1, RefKind.DOCKERFILE, "app:1.0", parse_reference("app:1.0")
        ),
        status=Status.OUTDATED,
        current=Version("1.0", None),
        candidate=Version(tag, f"sha256:{tag}"),
        update=UpdateLevel.MAJOR,
        reason="newest allowed",
    )


def test_information_flag_keeps_the_plain_choice_and_explains() -> None:
    newest, smaller = option("2.0", 1), option("1.1", 3)
    a = Assessment((), (newest, smaller), smaller)
    out = _choose(_result("2.0"), a, Policy())  # no vulnerability rule
    assert out.candidate is not None and out.candidate.tag == "2.0"
    assert "1.1 would fix 3 known vulnerabilities (2.0 fixes 1)" in out.reason
    ruled = _choose(_result("2.0"), a, Policy(require=("fewer-vulnerabilities",)))
    assert ruled.candidate is not None and ruled.candidate.tag == "1.1"


def test_a_tie_keeps_the_policy_choice_and_says_so() -> None:
    newest, smaller = option("2.0", 2), option("1.1", 2)
    a = Assessment((), (newest, smaller), smaller)
    for policy in (Policy(), Policy(max_severity="critical")):
        out = _choose(_result("2.0"), a, policy)
        assert out.candidate is not None and out.candidate.tag == "2.0"
        assert "fix the same number of known vulnerabilities (2" in out.reason
        assert "keeping the policy's choice 2.0" in out.reason
        assert out.vulns is not None and out.vulns.recommended is newest
