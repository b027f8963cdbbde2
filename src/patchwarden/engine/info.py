"""What a container is, read from the engine's inspect documents: :class:`ContainerInfo`
and the registry digests its image is known by. Pure: no engine call, no SDK."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from patchwarden.core.digest import short_hex
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import ReferenceFormatError


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    id: str
    name: str
    image: str  # as configured (Config.Image)
    image_id: str
    digest: str | None  # the manifest digest the image was pulled by, when known
    labels: dict[str, str] = field(default_factory=dict)
    state: str = ""
    health: str | None = None  # engine HEALTHCHECK status, None without a healthcheck
    # Every registry digest the local image is known by in the configured repository (an
    # image pulled by digest and by tag can have several); ``digest`` is the first of them.
    digests: tuple[str, ...] = ()
    # The image has no registry digest at all (Docker: ``docker compose build``), never
    # pulled from a registry. Podman's local images are found by name: see ``is_local_build``.
    local_build: bool = False

    @property
    def short_id(self) -> str:
        return short_hex(self.id)

    @property
    def known_digests(self) -> tuple[str, ...]:
        """The digests that mean "this container already runs that image"."""
        if self.digests:
            return self.digests
        return (self.digest,) if self.digest else ()

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def is_local_build(self) -> bool:
        """Built on this host, not pulled: no registry digest (Docker), or Podman's namespace
        for local images, ``localhost/NAME`` (no port: a registry on loopback has one)."""
        ref = self.image_ref()
        return self.local_build or (ref is not None and ref.registry == "localhost")

    def image_ref(self) -> ImageRef | None:
        """The configured reference, or None when it is an image ID (not a reference)."""
        text = self.image
        if text.startswith("sha256:") or _is_hex_id(text):
            return None
        try:
            return parse_reference(text)
        except ReferenceFormatError:
            return None


def _is_hex_id(text: str) -> bool:
    return len(text) >= 12 and all(c in "0123456789abcdef" for c in text)


def info_from_inspect(doc: dict[str, Any], image_lookup: Any = None) -> ContainerInfo:
    cfg = doc.get("Config") or {}
    state = doc.get("State") or {}
    test = (cfg.get("Healthcheck") or {}).get("Test") or []
    health: str | None = None
    if test and test[0] != "NONE":  # a HEALTHCHECK that has not run yet reports ""
        health = str((state.get("Health") or {}).get("Status") or "starting")
    image = str(cfg.get("Image") or doc.get("ImageName") or "")
    image_id = str(doc.get("Image") or "")
    digests: tuple[str, ...] = ()
    local_build = False
    if "@" in image:
        digests = (image.rsplit("@", 1)[1],)
    elif image_lookup is not None and image_id:
        img = image_lookup(image_id)
        if img:
            digests = repo_digests(img, image)
            local_build = not img.get("RepoDigests")
    return ContainerInfo(
        id=str(doc["Id"]),
        name=str(doc.get("Name", "")).lstrip("/"),
        image=image,
        image_id=image_id,
        digest=digests[0] if digests else None,
        labels=dict(cfg.get("Labels") or {}),
        state=str(state.get("Status") or ""),
        health=health,
        digests=digests,
        local_build=local_build,
    )


def repo_digest(image_doc: dict[str, Any], configured: str) -> str | None:
    """The first RepoDigest of the image that belongs to the configured repository."""
    found = repo_digests(image_doc, configured)
    return found[0] if found else None


def repo_digests(image_doc: dict[str, Any], configured: str) -> tuple[str, ...]:
    """Every RepoDigest of the image that belongs to the configured repository, in the
    engine's order, without repeats."""
    try:
        want = parse_reference(configured).name if configured else None
    except ReferenceFormatError:
        want = None
    found: list[str] = []
    for d in (str(d) for d in image_doc.get("RepoDigests") or []):
        name, _, dg = d.partition("@")
        try:
            if (want is None or parse_reference(name).name == want) and dg not in found:
                found.append(dg)
        except ReferenceFormatError:
            continue
    return tuple(found)
