"""SBOM rows as the state store keeps them: one compact JSON list per package.

Only what matching needs is kept (type, name, version, source name and version, namespace,
purl); the layer and the file a package came from are not (a re-match never reads layers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from patchwarden.scan.model import OSInfo, Package, PackageType

PackageKey = tuple[str, str, str, str | None, str | None, str | None]


def encode_package(p: Package) -> list[Any]:
    return [p.type.value, p.name, p.version, p.source_name, p.source_version, p.namespace, p.purl]


def decode_package(row: Sequence[Any]) -> Package:
    kind, name, version, source_name, source_version, namespace, purl = row
    return Package(
        name=name,
        version=version,
        type=PackageType(kind),
        purl=purl,
        layer="",
        path="",
        source_name=source_name,
        source_version=source_version,
        namespace=namespace,
    )


def package_key(row: Sequence[Any]) -> PackageKey:
    """What a match depends on: packages with the same key get the same findings."""
    return (row[0], row[1], row[2], row[3], row[4], row[5])


def key_of(p: Package) -> PackageKey:
    return (p.type.value, p.name, p.version, p.source_name, p.source_version, p.namespace)


def encode_os(os: OSInfo | None) -> dict[str, Any] | None:
    if os is None:
        return None
    return {"id": os.id, "version_id": os.version_id, "version_codename": os.version_codename}


def decode_os(doc: dict[str, Any] | None) -> OSInfo | None:
    if not doc:
        return None
    return OSInfo(
        id=str(doc["id"]),
        version_id=doc.get("version_id"),
        version_codename=doc.get("version_codename"),
    )
