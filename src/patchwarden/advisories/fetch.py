"""Bounded HTTP downloads for ``db import URL`` and ``db update`` (httpx, never unbounded)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from patchwarden.errors import PatchwardenError
from patchwarden.net.errors import map_transport_error
from patchwarden.net.http import make_client
from patchwarden.net.redact import redact_url

MiB = 1024 * 1024


class AdvisoryFetchError(PatchwardenError):
    """An advisory download failed (unreachable, HTTP error, too large)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int  # 200, or 304 when the conditional request says "unchanged"
    body: bytes = b""
    path: Path | None = None  # set when the body was spooled to a file (``to_file=True``)
    etag: str | None = None
    last_modified: str | None = None


def new_client() -> httpx.Client:
    return make_client(connect_timeout=10.0, read_timeout=60.0, follow_redirects=True)


def fetch(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    to_file: bool = False,
    etag: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Fetched:
    """GET ``url``; more than ``max_bytes`` is an error. ``to_file`` spools to a temp file."""
    shown = redact_url(url)
    headers = {"If-None-Match": etag} if etag else {}
    try:
        with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304:
                return Fetched(304, etag=etag)
            if resp.status_code != 200:
                raise AdvisoryFetchError(
                    f"GET {shown} answered HTTP {resp.status_code}",
                    "check advisories.base_url and the ecosystem name",
                    transient=resp.status_code >= 500 or resp.status_code == 429,
                )
            total = int(resp.headers.get("Content-Length") or 0) or None
            if total is not None and total > max_bytes:
                raise _too_large(shown, max_bytes)
            sink = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept on success
                prefix="osv-", suffix=".download", delete=False
            )
            chunks: list[bytes] = []
            done = 0
            try:
                for chunk in resp.iter_bytes(1 << 20):
                    done += len(chunk)
                    if done > max_bytes:
                        raise _too_large(shown, max_bytes)
                    if to_file:
                        sink.write(chunk)
                    else:
                        chunks.append(chunk)
                    if progress:
                        progress(done, total)
            except BaseException:
                sink.close()
                Path(sink.name).unlink(missing_ok=True)
                raise
            sink.close()
            if not to_file:
                Path(sink.name).unlink(missing_ok=True)
            return Fetched(
                200,
                body=b"".join(chunks),
                path=Path(sink.name) if to_file else None,
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
            )
    except httpx.TransportError as exc:
        lost = map_transport_error(exc, httpx.URL(url).host, what="advisory source")
        raise AdvisoryFetchError(
            f"cannot download {shown}: {lost.message}",
            "check the network (or advisories.base_url); the existing index is unchanged "
            "and still usable",
            transient=True,
        ) from None


def _too_large(url: str, max_bytes: int) -> AdvisoryFetchError:
    return AdvisoryFetchError(
        f"{url} is larger than the {max_bytes // MiB} MiB cap",
        "raise advisories.max_download_mb in patchwarden.yaml if this is expected",
    )
