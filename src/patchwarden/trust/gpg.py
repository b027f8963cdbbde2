"""OpenPGP "simple signing" (what ``skopeo copy --sign-by`` writes): an OpenPGP signed
message whose content is the simple-signing payload. Checked with ``gpg`` in a throwaway
home directory holding only the expected keys, never the user's keyring."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from patchwarden.errors import UsageError

TIMEOUT = 30
MAX_SIGNATURE = 64 * 1024


@dataclass(frozen=True, slots=True)
class GpgResult:
    payload: bytes | None  # the signed content when a listed key made a valid signature
    signer: str | None  # the key file (or inline name) that verified it
    note: str


def _gpg() -> str:
    path = shutil.which("gpg")
    if path is None:
        raise UsageError(
            "gpg is not installed: OpenPGP signatures cannot be checked",
            "install it (Debian: apt-get install gnupg)",
        )
    return path


def _run(
    args: list[str], home: str, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    # gpg from PATH with our own fixed arguments; the data it reads is passed as files/stdin
    return subprocess.run(  # noqa: S603
        [_gpg(), "--batch", "--no-tty", "--homedir", home, *args],
        input=data,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )


def _fingerprints(home: str) -> list[str]:
    out = _run(["--with-colons", "--fingerprint"], home).stdout.decode(errors="replace")
    return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]


def verify_signed_message(signature: bytes, keys: list[str]) -> GpgResult:
    if len(signature) > MAX_SIGNATURE:
        return GpgResult(None, None, f"signature is larger than {MAX_SIGNATURE} bytes")
    with tempfile.TemporaryDirectory(prefix="patchwarden-gpg-") as home:
        owner: dict[str, str] = {}
        for key in keys:
            data = key.encode() if key.lstrip().startswith("-----BEGIN") else None
            before = set(_fingerprints(home))
            if data is None:
                try:
                    data = Path(key).read_bytes()
                except OSError as exc:
                    raise UsageError(f"cannot read OpenPGP key {key}: {exc.strerror}") from None
            res = _run(["--import"], home, data)
            new = set(_fingerprints(home)) - before
            if res.returncode != 0 or not new:
                raise UsageError(f"{key} is not an OpenPGP public key gpg can import")
            owner.update(dict.fromkeys(new, key))
        sig = Path(home) / "signature"
        sig.write_bytes(signature)
        out = Path(home) / "payload"
        status = Path(home) / "status"
        _run(["--status-file", str(status), "--output", str(out), "--decrypt", str(sig)], home)
        lines = status.read_text(errors="replace").splitlines() if status.exists() else []
        valid = [ln.split() for ln in lines if ln.startswith("[GNUPG:] VALIDSIG ")]
        if not valid:
            bad = next((ln for ln in lines if " BADSIG " in ln or " ERRSIG " in ln), None)
            if bad and " ERRSIG " in bad:
                return GpgResult(None, None, "signed by a key that is not expected")
            if bad:
                return GpgResult(None, None, "bad signature (the signed content was changed)")
            return GpgResult(None, None, "not an OpenPGP signature gpg can verify")
        fields = valid[0]
        primary = fields[-1] if len(fields) > 11 else fields[2]
        signer = owner.get(primary) or owner.get(fields[2])
        if signer is None:
            return GpgResult(None, None, "signed by a key that is not expected")
        return GpgResult(out.read_bytes(), signer, "valid OpenPGP signature")
