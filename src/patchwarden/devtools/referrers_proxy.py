"""A loopback registry front that implements the OCI referrers API, for tests.

Distribution 2.8 (the real registry the tests run) predates the referrers API: it answers
``GET /v2/<name>/referrers/<digest>`` with 404, which is how clients learn to fall back to the
referrers tag schema. To test the API path too, this proxy forwards everything to the real
registry and adds the endpoint the way a registry that supports it behaves: every manifest
PUT through it that carries a ``subject`` is indexed, and the referrers of a digest are served
as an OCI index (``artifactType`` filter applied, ``OCI-Filters-Applied`` set).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from patchwarden.devtools.proxies import RegistryProxy

_REFERRERS = re.compile(r"^/v2/(?P<repo>.+)/referrers/(?P<digest>[a-z0-9]+:[a-f0-9]+)$")
_MANIFEST = re.compile(r"^/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)$")
INDEX = "application/vnd.oci.image.index.v1+json"


class ReferrersProxy(RegistryProxy):
    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.index: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.api_calls = 0

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(path)
        m = _REFERRERS.match(parts.path)
        if m and method == "GET":
            return self._referrers(m.group("repo"), m.group("digest"), parts.query)
        status, hdrs, data = super().forward(method, path, headers, body)
        mm = _MANIFEST.match(parts.path)
        if method == "PUT" and mm and status == 201 and body:
            self._record(mm.group("repo"), body, headers)
        return status, hdrs, data

    def _record(self, repo: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            doc = json.loads(body)
        except ValueError:
            return
        subject = doc.get("subject") if isinstance(doc, dict) else None
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), str):
            return
        desc: dict[str, Any] = {
            "mediaType": doc.get("mediaType") or headers.get("Content-Type", ""),
            "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
            "size": len(body),
        }
        at = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
        if at:
            desc["artifactType"] = at
        if doc.get("annotations"):
            desc["annotations"] = doc["annotations"]
        with self._lock:
            entries = self.index.setdefault((repo, subject["digest"]), [])
            if all(e["digest"] != desc["digest"] for e in entries):
                entries.append(desc)

    def _referrers(
        self, repo: str, digest: str, query: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        wanted = parse_qs(query).get("artifactType", [None])[0]
        with self._lock:
            self.api_calls += 1
            found = list(self.index.get((repo, digest), []))
        hdrs = [("Content-Type", INDEX)]
        if wanted:
            found = [d for d in found if d.get("artifactType") == wanted]
            hdrs.append(("OCI-Filters-Applied", "artifactType"))
        body = {"schemaVersion": 2, "mediaType": INDEX, "manifests": found}
        return 200, hdrs, json.dumps(body).encode()
