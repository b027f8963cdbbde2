"""Package URLs (https://github.com/package-url/purl-spec) for the catalogers.

Built with ``packageurl-python`` (already installed as a dependency of cyclonedx-python-lib),
which does the percent-encoding. Decisions:

* No ``distro`` qualifier: a per-file cataloger does not see os-release. The merger, which
  knows the image's :class:`~patchwarden.scan.model.OSInfo`, may add it.
* ``deb`` namespace is always ``debian`` (dpkg status does not say whether a package comes from
  Debian or Ubuntu); ``apk`` is ``alpine``; ``rpm`` comes from the header's Vendor (see
  :func:`rpm_namespace`). The merger may rewrite the namespace from OSInfo.id.
* ``deb`` versions keep their epoch (``1:2.3-4``) as dpkg prints them; ``rpm`` versions are
  ``VERSION-RELEASE`` with the epoch as the ``epoch`` qualifier (as the purl spec says).
* ``pypi`` names are PEP 503-normalized (lowercase, runs of ``-_.`` become ``-``).
"""

from __future__ import annotations

import re

from packageurl import PackageURL

_PEP503 = re.compile(r"[-_.]+")


def normalize_pypi(name: str) -> str:
    return _PEP503.sub("-", name).lower()


def purl(
    type_: str,
    namespace: str | None,
    name: str,
    version: str | None,
    qualifiers: dict[str, str] | None = None,
) -> str:
    quals = {k: v for k, v in (qualifiers or {}).items() if v}
    return str(
        PackageURL(
            type=type_, namespace=namespace or None, name=name, version=version, qualifiers=quals
        ).to_string()
    )


def deb(name: str, version: str, arch: str | None) -> str:
    return purl("deb", "debian", name, version, {"arch": arch or ""})


def apk(name: str, version: str, arch: str | None) -> str:
    return purl("apk", "alpine", name, version, {"arch": arch or ""})


def rpm(
    namespace: str, name: str, version_release: str, arch: str | None, epoch: int | None
) -> str:
    quals = {"arch": arch or ""}
    if epoch is not None:
        quals["epoch"] = str(epoch)
    return purl("rpm", namespace, name, version_release, quals)


def pypi(name: str, version: str) -> str:
    return purl("pypi", None, normalize_pypi(name), version)


def npm(name: str, version: str) -> str:
    if name.startswith("@") and "/" in name:
        scope, _, bare = name.partition("/")
        return purl("npm", scope, bare, version)
    return purl("npm", None, name, version)


def golang(module_path: str, version: str) -> str:
    namespace, _, name = module_path.rpartition("/")
    return purl("golang", namespace or None, name, version)


def maven(group: str | None, artifact: str, version: str) -> str:
    return purl("maven", group, artifact, version)


_RPM_VENDORS = (
    ("red hat", "redhat"),
    ("fedora", "fedora"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("oracle", "oracle"),
    ("amazon", "amazon"),
    ("opensuse", "opensuse"),
    ("suse", "suse"),
    ("mariner", "mariner"),
    ("microsoft", "mariner"),
)


def rpm_namespace(vendor: str | None) -> str:
    """Map an RPM header's Vendor to a purl namespace; unknown or missing vendor -> redhat."""
    low = (vendor or "").lower()
    for needle, ns in _RPM_VENDORS:
        if needle in low:
            return ns
    return "redhat"
