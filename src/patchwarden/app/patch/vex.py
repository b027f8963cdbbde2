"""An OpenVEX (v0.2.0) document of the vulnerabilities a patch fixed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from patchwarden import __version__
from patchwarden.core.ref import ImageRef

OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"


def image_purl(image: ImageRef, digest: str) -> str:
    """``pkg:oci/NAME@DIGEST?repository_url=REGISTRY/REPO`` (the purl spec's OCI type)."""
    name = image.repository.rsplit("/", 1)[-1]
    return f"pkg:oci/{name}@{digest.replace(':', '%3A')}?repository_url={image.name}"


def openvex(
    image: ImageRef,
    digest: str,
    fixed: Sequence[tuple[str, str]],  # (vulnerability, package purl)
    now: datetime,
) -> dict[str, Any]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    by_vuln: dict[str, list[str]] = {}
    for vuln, pkg in fixed:
        by_vuln.setdefault(vuln, []).append(pkg)
    product = image_purl(image, digest)
    statements = [
        {
            "vulnerability": {"name": vuln},
            "products": [
                {
                    "@id": product,
                    "subcomponents": [{"@id": p} for p in sorted(set(pkgs))],
                }
            ],
            "status": "fixed",
            "action_statement": "the fixed package versions were installed by patchwarden patch",
            "timestamp": stamp,
        }
        for vuln, pkgs in sorted(by_vuln.items())
    ]
    return {
        "@context": OPENVEX_CONTEXT,
        "@id": f"urn:uuid:{uuid.uuid4()}",
        "author": f"patchwarden {__version__}",
        "timestamp": stamp,
        "version": 1,
        "tooling": f"patchwarden/{__version__}",
        "statements": statements,
    }
