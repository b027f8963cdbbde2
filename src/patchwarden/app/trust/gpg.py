"""OpenPGP simple signatures from a lookaside store (a directory or an http(s) URL), laid out
as containers/image writes them: ``<base>/<repository>@<alg>=<hex>/signature-<n>``."""

from __future__ import annotations

from pathlib import Path

from patchwarden.app.trust.model import Expected, Found, gpg_name
from patchwarden.core.ref import ImageRef
from patchwarden.trust.gpg import MAX_SIGNATURE, verify_signed_message
from patchwarden.trust.simple_signing import ATOMIC_TYPE, COSIGN_TYPE, PayloadError, parse_payload

MAX_SIGNATURES = 16


class LookasideError(Exception):
    pass


def _location(base: str, image: ImageRef, digest: str, n: int) -> str:
    alg, _, hx = digest.partition(":")
    return f"{base.rstrip('/')}/{image.repository}@{alg}={hx}/signature-{n}"


def _read(where: str) -> bytes | None:
    """The signature at ``where``; None when there is none; LookasideError otherwise."""
    if "://" not in where or where.startswith("file://"):
        p = Path(where.removeprefix("file://"))
        try:
            if p.stat().st_size > MAX_SIGNATURE:
                raise LookasideError(f"{where} is larger than {MAX_SIGNATURE} bytes")
            return p.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LookasideError(f"{where}: {exc.strerror}") from None
    from patchwarden.net.http import make_client

    with make_client() as client:
        try:
            resp = client.get(where)
        except Exception as exc:
            raise LookasideError(f"{where}: {type(exc).__name__}") from None
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise LookasideError(f"{where} answered HTTP {resp.status_code}")
    if len(resp.content) > MAX_SIGNATURE:
        raise LookasideError(f"{where} is larger than {MAX_SIGNATURE} bytes")
    return resp.content


def lookaside_check(image: ImageRef, digest: str, expected: Expected) -> list[Found]:
    from patchwarden.app.trust.verifier import SignatureFetchError

    if not expected.gpg_keys:
        return []
    if not expected.lookaside:
        return [Found("gpg", "-", None, False, "no lookaside configured to read signatures from")]
    out: list[Found] = []
    for n in range(1, MAX_SIGNATURES + 1):
        where = _location(expected.lookaside, image, digest, n)
        try:
            data = _read(where)
        except LookasideError as exc:
            raise SignatureFetchError(str(exc)) from None
        if data is None:
            break
        res = verify_signed_message(data, list(expected.gpg_keys))
        if res.payload is None or res.signer is None:
            out.append(Found("gpg", where, None, False, res.note))
            continue
        signer = gpg_name(res.signer)
        try:
            p = parse_payload(res.payload, allowed=frozenset({ATOMIC_TYPE, COSIGN_TYPE}))
        except PayloadError as exc:
            out.append(Found("gpg", where, signer, False, f"signed, but {exc}"))
            continue
        if p.manifest_digest != digest:
            out.append(
                Found(
                    "gpg",
                    where,
                    signer,
                    False,
                    f"a valid signature, but for another image: {p.manifest_digest[:19]}",
                )
            )
            continue
        out.append(Found("gpg", where, signer, True, f"valid OpenPGP signature for {digest[:19]}"))
    return out
