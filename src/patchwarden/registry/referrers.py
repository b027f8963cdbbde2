"""The referrers of a digest (manifests whose ``subject`` is it): the OCI referrers API
(``GET /v2/<name>/referrers/<digest>``) when the registry has it, else the referrers tag schema
(an index tagged ``<alg>-<hex>``), as the distribution spec orders it: a 404 from the API means
"not supported", and only then is the tag read."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError, RegistryError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.errors import map_http_error
from patchwarden.registry.model import INDEX_TYPES, MEDIA_OCI_INDEX
from patchwarden.registry.transport import read_capped

MAX_REFERRERS = 256


class ReferrersVia(StrEnum):
    api = "referrers API"
    tag_schema = "referrers tag schema"


@dataclass(frozen=True)
class Referrer:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


def schema_tag(digest: str) -> str:
    alg, _, hx = digest.partition(":")
    return f"{alg}-{hx}"


def _parse(body: bytes, where: str) -> list[Referrer]:
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise RegistryError(f"{where} is not a valid referrers index") from exc
    if not isinstance(data, dict) or not isinstance(data.get("manifests", []), list):
        raise RegistryError(f"{where} is not a valid referrers index")
    out = []
    for d in (data.get("manifests") or [])[:MAX_REFERRERS]:
        if not isinstance(d, dict) or not isinstance(d.get("digest"), str):
            continue
        notes = d.get("annotations")
        at = d.get("artifactType")
        out.append(
            Referrer(
                d["digest"],
                str(d.get("mediaType", "")),
                int(d.get("size", -1)),
                at if isinstance(at, str) else None,
                {str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {},
            )
        )
    return out


def list_referrers(
    client: RegistryClient, image: ImageRef, digest: str, artifact_type: str | None = None
) -> tuple[list[Referrer], ReferrersVia]:
    """Referrers of ``digest`` in ``image``'s repository, and how they were found. Filtered
    by ``artifact_type`` (a prefix) here whether or not the registry applied the filter."""
    host, repo = image.registry, image.repository
    # No ?artifactType= filter: servers match it exactly, and callers ask for a prefix (every
    # version of a media type); the filter is applied here instead.
    path = f"/v2/{repo}/referrers/{digest}"
    headers = {"Accept": MEDIA_OCI_INDEX}
    t = client.transport
    with t.request(host, repo, "referrers", "GET", path, headers) as r:
        body = read_capped(r, client.options.max_manifest_bytes, "referrers")
        ctype = r.headers.get("Content-Type", "")
        if r.status_code not in (200, 404):
            raise map_http_error(r.status_code, body, host=host, repository=repo)
        api = r.status_code == 200 and MEDIA_OCI_INDEX in ctype
    if api:
        found = _parse(body, f"the referrers of {digest} on {host}")
        via = ReferrersVia.api
    else:
        via = ReferrersVia.tag_schema
        tag = schema_tag(digest)
        try:
            m = client.get_manifest(image.with_digest(None).with_tag(tag))
        except NotFoundError:
            return [], via
        if m.media_type not in INDEX_TYPES:
            return [], via
        found = _parse(m.raw, f"{image.repository}:{tag}")
    if artifact_type:
        found = [f for f in found if (f.artifact_type or "").startswith(artifact_type)]
    return found, via
