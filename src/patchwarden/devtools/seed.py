"""Seeding tool: add many tags/repositories to a test registry fast, by raw manifest PUTs.

This is for tests, demos and benchmarks only. Push one image with skopeo, then copy its
manifest to more tags (and, with a cross-repository blob mount, to more repositories).
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from patchwarden.registry.auth import basic_header
from patchwarden.registry.challenge import pick_challenge
from patchwarden.registry.credentials import Credentials
from patchwarden.registry.manifests import ACCEPT


class Seeder:
    """A minimal pushing client (Basic or Bearer with push scope) for a loopback registry."""

    def __init__(self, host: str, creds: tuple[str, str] | None = None) -> None:
        self.base = f"http://{host}"
        self.creds = Credentials(*creds) if creds else None
        self.http = httpx.Client(timeout=30)
        self._auth: dict[str, dict[str, str]] = {}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Seeder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self, repos: tuple[str, ...], challenge: str | None) -> dict[str, str]:
        ch = pick_challenge(challenge)
        if ch is None or self.creds is None:
            return {}
        if ch.scheme == "basic":
            return {"Authorization": basic_header(self.creds)}
        params: list[tuple[str, str | int | float | bool | None]] = [("service", ch.service or "")]
        params += [("scope", f"repository:{r}:pull,push") for r in repos]
        r = self.http.get(
            ch.realm or "", params=params, headers={"Authorization": basic_header(self.creds)}
        )
        r.raise_for_status()
        data = r.json()
        return {"Authorization": f"Bearer {data.get('token') or data['access_token']}"}

    def _call(
        self,
        method: str,
        path: str,
        repos: tuple[str, ...],
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        key = ",".join(repos)
        extra = headers or {}
        url = self.base + path
        resp = self.http.request(
            method, url, content=content, headers=extra | self._auth.get(key, {})
        )
        if resp.status_code == 401:
            self._auth[key] = self._headers(repos, resp.headers.get("WWW-Authenticate"))
            resp = self.http.request(method, url, content=content, headers=extra | self._auth[key])
        return resp

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str]:
        r = self._call("GET", f"/v2/{repo}/manifests/{ref}", (repo,), headers={"Accept": ACCEPT})
        r.raise_for_status()
        return r.content, r.headers["Content-Type"]

    def put_manifest(self, repo: str, tag: str, body: bytes, media_type: str) -> str:
        r = self._call(
            "PUT",
            f"/v2/{repo}/manifests/{tag}",
            (repo,),
            content=body,
            headers={"Content-Type": media_type},
        )
        if r.status_code != 201:
            raise RuntimeError(f"PUT manifest {repo}:{tag} failed: {r.status_code} {r.text[:300]}")
        return str(r.headers.get("Docker-Content-Digest", ""))

    def upload_blob(self, repo: str, data: bytes) -> str:
        """Upload ``data`` to ``repo`` in one request (a monolithic upload); its digest."""
        import hashlib

        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = self._call("POST", f"/v2/{repo}/blobs/uploads/", (repo,))
        if r.status_code != 202:
            raise RuntimeError(f"blob upload to {repo} refused: {r.status_code} {r.text[:300]}")
        loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        path = loc.split("://", 1)[1].split("/", 1)[1] if "://" in loc else loc.lstrip("/")
        r = self._call(
            "PUT",
            f"/{path}{sep}digest={digest}",
            (repo,),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if r.status_code != 201:
            raise RuntimeError(f"blob upload to {repo} failed: {r.status_code} {r.text[:300]}")
        return digest

    def mount_blob(self, digest: str, src: str, dest: str) -> None:
        r = self._call("POST", f"/v2/{dest}/blobs/uploads/?mount={digest}&from={src}", (dest, src))
        if r.status_code != 201:
            raise RuntimeError(f"blob mount {src} -> {dest} failed: {r.status_code} {r.text[:300]}")

    def add_tags(self, repo: str, source_ref: str, tags: Iterable[str]) -> None:
        """Point each of ``tags`` at the manifest ``repo:source_ref``."""
        body, mt = self.get_manifest(repo, source_ref)
        for t in tags:
            self.put_manifest(repo, t, body, mt)

    def copy_repo(
        self, src: str, ref: str, dest: str, tags: Iterable[str], digests: Iterable[str]
    ) -> None:
        """Mount ``digests`` (config + layers) from ``src`` into ``dest``; then tag ``tags``."""
        for d in digests:
            self.mount_blob(d, src, dest)
        body, mt = self.get_manifest(src, ref)
        for t in tags:
            self.put_manifest(dest, t, body, mt)
