"""SPDX 2.3 JSON via spdx-tools (the only module that imports it).

The document DESCRIBES one package for the image (purpose CONTAINER), which CONTAINS the OS
(purpose OPERATING-SYSTEM) and every package found (purl as a PACKAGE-MANAGER external ref,
layer and path in the package comment). SPDX 2.3 has no place for vulnerabilities: use
CycloneDX, SARIF or JSON for those.
"""

from __future__ import annotations

import io
import re
import uuid

from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.package import (
    ExternalPackageRef,
    ExternalPackageRefCategory,
    PackagePurpose,
)
from spdx_tools.spdx.model.package import Package as SpdxPackage
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from patchwarden.sbom.model import ScanReport, sorted_packages
from patchwarden.scan.model import Package

NAMESPACE_BASE = "https://patchwarden.invalid/spdx"  # not resolvable; unique per document


def _spdx_id(prefix: str, index: int, name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-")[:60]
    return f"SPDXRef-{prefix}-{index}" + (f"-{safe}" if safe else "")


def _package(p: Package, index: int) -> SpdxPackage:
    refs = []
    if p.purl:
        refs.append(ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", p.purl))
    comment = f"type: {p.type.value}; path: /{p.path}; layer: {p.layer}"
    if p.source_name:
        comment += f"; source package: {p.source_name}"
        if p.source_version:
            comment += f" {p.source_version}"
    return SpdxPackage(
        spdx_id=_spdx_id("Package", index, p.name),
        name=p.name,
        download_location=SpdxNoAssertion(),
        version=p.version,
        files_analyzed=False,
        external_references=refs,
        comment=comment,
        primary_package_purpose=PackagePurpose.LIBRARY,
    )


def build_document(report: ScanReport, namespace_id: str | None = None) -> Document:
    inv = report.inventory
    image = inv.image
    ns = namespace_id or str(uuid.uuid4())
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=image.name,
        document_namespace=f"{NAMESPACE_BASE}/{re.sub(r'[^A-Za-z0-9._-]+', '-', image.name)}-{ns}",
        creators=[Actor(ActorType.TOOL, f"patchwarden-{report.tool_version}")],
        created=report.timestamp.replace(microsecond=0),
    )
    root = SpdxPackage(
        spdx_id="SPDXRef-Image",
        name=image.name,
        download_location=SpdxNoAssertion(),
        version=image.digest,
        files_analyzed=False,
        comment=f"platform: {image.platform}" if image.platform else None,
        primary_package_purpose=PackagePurpose.CONTAINER,
    )
    packages = [root]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-Image")]
    if inv.os:
        packages.append(
            SpdxPackage(
                spdx_id="SPDXRef-OperatingSystem",
                name=inv.os.id,
                download_location=SpdxNoAssertion(),
                version=inv.os.version_id,
                files_analyzed=False,
                comment=inv.os.pretty_name,
                primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
            )
        )
    for i, p in enumerate(sorted_packages(inv.packages), start=1):
        packages.append(_package(p, i))
    for pkg in packages[1:]:
        relationships.append(Relationship("SPDXRef-Image", RelationshipType.CONTAINS, pkg.spdx_id))
    return Document(creation_info=creation, packages=packages, relationships=relationships)


def write_spdx(report: ScanReport, namespace_id: str | None = None) -> str:
    buf = io.StringIO()
    write_document_to_stream(build_document(report, namespace_id), buf, validate=False)
    return buf.getvalue() + "\n"
