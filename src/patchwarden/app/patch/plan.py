"""Which packages to upgrade: those with a finding that has a fixed version (dpkg only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from patchwarden.errors import UsageError
from patchwarden.scan.model import Finding, FindingStatus, OSInfo, PackageType

DPKG_FAMILY = frozenset({"debian", "ubuntu"})


@dataclass(frozen=True, slots=True)
class Upgrade:
    package: str  # binary package name
    installed: str
    fixed: str  # the highest fixed version any of its findings needs
    vulnerabilities: tuple[str, ...]


def supported(os: OSInfo | None, findings: Sequence[Finding]) -> None:
    """Refuse, with the reason, images whose package manager patch cannot drive here."""
    family = {os.id, *os.id_like} if os else set()
    if family & DPKG_FAMILY:
        return
    kinds = {f.package.type for f in findings}
    if os is None:
        raise UsageError(
            "patch cannot tell the image's distribution (no /etc/os-release)",
            "patch upgrades dpkg/apt packages of Debian and Ubuntu images; rebuild this image "
            "from its Dockerfile instead",
        )
    manager = "apk" if PackageType.APK in kinds or os.id == "alpine" else "rpm/dnf"
    raise UsageError(
        f"patch does not support {os.pretty_name or os.id} images ({manager}) yet",
        "patch upgrades dpkg/apt packages of Debian and Ubuntu images; rebuild this image "
        "from its Dockerfile to pick up the distribution's fixes",
    )


def plan_upgrades(findings: Sequence[Finding]) -> list[Upgrade]:
    """One upgrade per affected dpkg binary package with a fix; sorted by name."""
    from patchwarden.versions.ecosystems import compare

    by_pkg: dict[str, list[Finding]] = {}
    for f in findings:
        if f.package.type != PackageType.DEB or f.status != FindingStatus.FIXED:
            continue
        if not f.fixed_version:
            continue
        by_pkg.setdefault(f.package.name, []).append(f)
    out = []
    for name, fs in sorted(by_pkg.items()):
        fixed = fs[0].fixed_version or ""
        for f in fs[1:]:
            if f.fixed_version and compare("Debian", f.fixed_version, fixed) > 0:
                fixed = f.fixed_version
        out.append(Upgrade(name, fs[0].installed_version, fixed, tuple(sorted({f.id for f in fs}))))
    return out
