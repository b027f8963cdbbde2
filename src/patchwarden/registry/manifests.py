"""Wire parsing of OCI / Docker v2 manifests, indexes and image configs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from patchwarden.errors import RegistryError
from patchwarden.registry.model import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MEDIA_DOCKER_LIST,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    ImageConfig,
    Manifest,
    Platform,
)

SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
ACCEPT = ", ".join([MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST])


def _load(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise RegistryError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RegistryError(f"{what} is not a JSON object")
    return data


def _platform(obj: object) -> Platform | None:
    if not isinstance(obj, dict):
        return None
    os_, arch = obj.get("os"), obj.get("architecture")
    if not isinstance(os_, str) or not isinstance(arch, str):
        return None
    variant = obj.get("variant")
    return Platform(os_, arch, variant if isinstance(variant, str) and variant else None)


def _str_dict(obj: object) -> dict[str, str]:
    if not isinstance(obj, dict):
        return {}
    return {str(k): str(v) for k, v in obj.items() if v is not None}


def _descriptor(obj: object, what: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise RegistryError(f"{what}: descriptor is not an object")
    mt, dg, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
    if not isinstance(dg, str) or not isinstance(size, int):
        raise RegistryError(f"{what}: descriptor without digest or size")
    return Descriptor(
        media_type=mt if isinstance(mt, str) else "",
        digest=dg,
        size=size,
        platform=_platform(obj.get("platform")),
        annotations=_str_dict(obj.get("annotations")),
    )


def detect_media_type(data: dict[str, Any], header_type: str | None) -> str:
    """The manifest's media type: body ``mediaType``, else the Content-Type, else by shape."""
    body_type = data.get("mediaType")
    if isinstance(body_type, str) and body_type:
        return body_type
    ct = (header_type or "").split(";", 1)[0].strip()
    if ct in INDEX_TYPES or ct in MANIFEST_TYPES or ct in SCHEMA1_TYPES:
        return ct
    if data.get("schemaVersion") == 1:
        return "application/vnd.docker.distribution.manifest.v1+json"
    if "manifests" in data:
        return MEDIA_OCI_INDEX
    if "config" in data:
        return MEDIA_OCI_MANIFEST
    return ct


def parse_manifest(raw: bytes, digest: str, content_type: str | None, where: str) -> Manifest:
    """Parse a verified manifest body; ``where`` (``host/repo:tag``) is used in messages."""
    data = _load(raw, f"manifest of {where}")
    media_type = detect_media_type(data, content_type)
    if media_type in SCHEMA1_TYPES or data.get("schemaVersion") == 1:
        raise RegistryError(
            f"{where} uses the deprecated Docker schema 1 manifest format",
            "re-push the image with a current client (schema 2 / OCI); schema 1 is not supported",
        )
    what = f"manifest of {where}"
    if media_type in INDEX_TYPES:
        entries = data.get("manifests")
        if not isinstance(entries, list):
            raise RegistryError(f"{what}: index without a manifests list")
        return Manifest(
            digest=digest,
            media_type=media_type,
            raw=raw,
            manifests=tuple(_descriptor(e, what) for e in entries),
            annotations=_str_dict(data.get("annotations")),
        )
    if media_type in MANIFEST_TYPES:
        layers = data.get("layers")
        return Manifest(
            digest=digest,
            media_type=media_type,
            raw=raw,
            config=_descriptor(data.get("config"), what),
            layers=tuple(_descriptor(x, what) for x in layers) if isinstance(layers, list) else (),
            annotations=_str_dict(data.get("annotations")),
        )
    raise RegistryError(
        f"{where} has an unsupported manifest media type {media_type!r}",
        "patchwarden reads OCI and Docker v2 image manifests and indexes",
    )


_FRACTION_RE = re.compile(r"(\.\d+)")


def parse_rfc3339(text: str) -> datetime | None:
    """RFC 3339 with optional nanoseconds and ``Z``; always timezone-aware (UTC if absent)."""
    t = text.strip()
    if not t:
        return None
    if t[-1] in "zZ":
        t = t[:-1] + "+00:00"
    t = t.replace("t", "T", 1) if "T" not in t else t
    t = _FRACTION_RE.sub(lambda m: m.group(1)[:7], t, count=1)  # Python keeps microseconds
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    if dt.year <= 1:  # Go's zero time means "unknown"
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_image_config(raw: bytes, digest: str, where: str) -> ImageConfig:
    data = _load(raw, f"image config of {where}")
    created = data.get("created")
    cfg = data.get("config")
    labels = _str_dict(cfg.get("Labels")) if isinstance(cfg, dict) else {}
    os_, arch = data.get("os"), data.get("architecture")
    return ImageConfig(
        digest=digest,
        created=parse_rfc3339(created) if isinstance(created, str) else None,
        os=os_ if isinstance(os_, str) else None,
        architecture=arch if isinstance(arch, str) else None,
        labels=labels,
    )


def index_platforms(index: Manifest) -> list[Platform]:
    """Platforms of an index, without ``unknown/unknown`` attestation entries."""
    out: list[Platform] = []
    for d in index.manifests:
        p = d.platform
        if p is None or (p.os == "unknown" and p.architecture == "unknown"):
            continue
        if d.annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        if p not in out:
            out.append(p)
    return out


def _norm(p: Platform) -> Platform:
    variant = p.variant
    if p.architecture == "arm64" and variant in (None, "v8"):
        variant = None
    return Platform(p.os, p.architecture, variant)


def select_platform(index: Manifest, want: Platform) -> Descriptor | None:
    """The descriptor for ``want``: exact variant match first, then a variant-less request
    matches any variant (arm64's default variant v8 equals no variant)."""
    w = _norm(want)
    candidates = [
        d
        for d in index.manifests
        if d.platform is not None
        and d.platform.os == w.os
        and d.platform.architecture == w.architecture
    ]
    for d in candidates:
        assert d.platform is not None  # noqa: S101 - type narrowing; the caller checked it
        if _norm(d.platform).variant == w.variant:
            return d
    if w.variant is None and candidates:
        return candidates[0]
    return None
