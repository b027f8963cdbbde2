"""Writing to a registry: blobs (cross-repository mount, streamed upload), manifests, deletes,
and the referrers of a digest (the OCI referrers API and its tag-schema fallback).

Every upload is digest-checked twice: by us while streaming (the source's bytes must hash to
the digest its manifest names) and by the registry when the upload is committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from patchwarden.core.digest import Digest
from patchwarden.core.ref import ImageRef
from patchwarden.errors import IntegrityError, RegistryError
from patchwarden.registry.auth import repo_scope
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.errors import map_http_error
from patchwarden.registry.manifests import ACCEPT
from patchwarden.registry.model import Descriptor
from patchwarden.registry.referrers import list_referrers
from patchwarden.registry.transport import read_capped

CHUNK = 1 << 20
_ERR_CAP = 64 * 1024


def push_scope(repo: str, mount_from: str | None = None) -> str:
    scope = repo_scope(repo, "pull,push")
    return scope if mount_from is None else f"{scope} {repo_scope(mount_from)}"


def hashed_chunks(stream: IO[bytes], digest: str, size: int, what: str) -> Iterator[bytes]:
    """Yield ``stream`` in pieces; raise :class:`IntegrityError` (aborting the upload) unless
    it is exactly ``size`` bytes hashing to ``digest``."""
    want = Digest.parse(digest)
    h = want.hasher()
    total = 0
    while True:
        piece = stream.read(CHUNK)
        if not piece:
            break
        total += len(piece)
        if total > size >= 0:
            raise IntegrityError(f"{what} is larger than the {size} bytes its manifest names")
        h.update(piece)
        yield piece
    if size >= 0 and total != size:
        raise IntegrityError(f"{what} is {total} bytes, its manifest names {size}")
    if h.hexdigest() != want.hex:
        raise IntegrityError(
            f"{what} does not match its digest {want.short}",
            "the source registry or a proxy corrupted it; nothing was written at the destination",
        )


class RegistryWriter:
    """Push-side operations on the hosts a :class:`RegistryClient` knows (same credentials)."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self._t = client.transport
        self.uploaded = 0  # blobs uploaded (bytes sent through us)
        self.mounted = 0  # blobs mounted across repositories (no bytes)
        self.present = 0  # blobs already at the destination

    # -- blobs -----------------------------------------------------------------------------

    def has_blob(self, image: ImageRef, digest: str) -> bool:
        host, repo = image.registry, image.repository
        path = f"/v2/{repo}/blobs/{digest}"
        scope = push_scope(repo)
        with self._t.request(host, repo, "blob_head", "HEAD", path, follow=True, scope=scope) as r:
            if r.status_code == 200:
                return True
            if r.status_code == 404:
                return False
            raise map_http_error(r.status_code, b"", host=host, repository=repo, what="blob")

    def mount(self, image: ImageRef, digest: str, from_repo: str) -> bool:
        """Mount ``digest`` from ``from_repo`` on the same registry; False when the registry
        declined (then the caller uploads)."""
        host, repo = image.registry, image.repository
        path = f"/v2/{repo}/blobs/uploads/?mount={quote(digest)}&from={quote(from_repo)}"
        scope = push_scope(repo, from_repo)
        with self._t.request(host, repo, "blob_mount", "POST", path, scope=scope) as r:
            read_capped(r, _ERR_CAP, "mount answer")
            if r.status_code == 201:
                self.mounted += 1
                return True
            if r.status_code == 202:  # declined: an upload session was opened instead
                self._cancel(image, r.headers.get("Location"))
                return False
            raise map_http_error(r.status_code, b"", host=host, repository=repo, what="blob")

    def _cancel(self, image: ImageRef, location: str | None) -> None:
        if not location:
            return
        host, repo = image.registry, image.repository
        try:
            with self._t.request(
                host, repo, "upload_cancel", "DELETE", location, scope=push_scope(repo)
            ):
                pass
        except RegistryError:
            pass  # an abandoned session is purged by the registry

    def _start_upload(self, image: ImageRef) -> str:
        host, repo = image.registry, image.repository
        path = f"/v2/{repo}/blobs/uploads/"
        with self._t.request(host, repo, "upload", "POST", path, scope=push_scope(repo)) as r:
            body = read_capped(r, _ERR_CAP, "upload answer")
            if r.status_code != 202 or not r.headers.get("Location"):
                raise map_http_error(r.status_code, body, host=host, repository=repo, what="blob")
            return str(r.headers["Location"])

    def upload(self, image: ImageRef, desc: Descriptor, stream: IO[bytes], what: str) -> None:
        """Stream a blob from ``stream`` (one monolithic PUT), hashing as it goes."""
        host, repo = image.registry, image.repository
        location = self._start_upload(image)
        sep = "&" if "?" in location else "?"
        target = f"{location}{sep}digest={quote(desc.digest)}"
        headers = {"Content-Type": "application/octet-stream"}
        if desc.size >= 0:
            headers["Content-Length"] = str(desc.size)
        body = hashed_chunks(stream, desc.digest, desc.size, what)
        try:
            with self._t.request(
                host, repo, "upload", "PUT", target, headers, scope=push_scope(repo), content=body
            ) as r:
                err = read_capped(r, _ERR_CAP, "upload answer")
                if r.status_code != 201:
                    raise map_http_error(
                        r.status_code, err, host=host, repository=repo, what="blob"
                    )
        except RegistryError:
            self._cancel(image, location)
            raise
        self.uploaded += 1

    def put_blob(self, image: ImageRef, data: bytes, media_type: str) -> Descriptor:
        """Upload a small in-memory blob (a signature payload, an empty config)."""
        digest = str(Digest.of(data))
        desc = Descriptor(media_type, digest, len(data))
        if not self.has_blob(image, digest):
            import io

            self.upload(image, desc, io.BytesIO(data), f"blob {digest}")
        return desc

    # -- manifests -------------------------------------------------------------------------

    def has_manifest(self, image: ImageRef, reference: str) -> str | None:
        """The digest ``reference`` (tag or digest) names at ``image``'s repository, or None."""
        host, repo = image.registry, image.repository
        path = f"/v2/{repo}/manifests/{reference}"
        headers = {"Accept": ACCEPT}
        scope = push_scope(repo)
        with self._t.request(host, repo, "manifest_head", "HEAD", path, headers, scope=scope) as r:
            if r.status_code == 404:
                return None
            if r.status_code != 200:
                raise map_http_error(r.status_code, b"", host=host, repository=repo)
            return r.headers.get("Docker-Content-Digest") or None

    def put_manifest(self, image: ImageRef, reference: str, raw: bytes, media_type: str) -> str:
        """PUT ``raw`` at ``reference``; return its digest (checked against the registry's)."""
        host, repo = image.registry, image.repository
        digest = str(Digest.of(raw))
        path = f"/v2/{repo}/manifests/{reference}"
        headers = {"Content-Type": media_type}
        with self._t.request(
            host, repo, "manifest_put", "PUT", path, headers, scope=push_scope(repo), content=raw
        ) as r:
            body = read_capped(r, _ERR_CAP, "manifest answer")
            if r.status_code not in (200, 201):
                raise map_http_error(r.status_code, body, host=host, repository=repo)
            got = r.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise IntegrityError(
                f"registry {host} stored the manifest for {repo} as {got}, expected {digest}"
            )
        return digest

    def delete_manifest(self, image: ImageRef, digest: str) -> None:
        host, repo = image.registry, image.repository
        path = f"/v2/{repo}/manifests/{digest}"
        scope = repo_scope(repo, "pull,push,delete")
        with self._t.request(host, repo, "manifest_delete", "DELETE", path, scope=scope) as r:
            body = read_capped(r, _ERR_CAP, "delete answer")
            if r.status_code == 404:
                return
            if r.status_code not in (200, 202):
                raise map_http_error(r.status_code, body, host=host, repository=repo)

    # -- referrers ---------------------------------------------------------------------------

    def referrers(self, image: ImageRef, digest: str) -> list[Descriptor]:
        """Manifests whose ``subject`` is ``digest``: the referrers API when the registry has
        it, else the tag schema (``sha256-<hex>`` holding an index)."""
        found, _ = list_referrers(self.client, image, digest)
        return [
            Descriptor(r.media_type, r.digest, r.size, annotations=r.annotations) for r in found
        ]
