"""Content digests (``algorithm:hex``) as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from patchwarden.errors import ReferenceFormatError

_ALGORITHMS = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"^(?P<alg>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)$")


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        m = _DIGEST_RE.match(text)
        if not m:
            raise ReferenceFormatError(
                f"invalid digest {text!r}", "a digest looks like sha256:<64 hex>"
            )
        alg, hx = m.group("alg"), m.group("hex")
        expected = _ALGORITHMS.get(alg)
        if expected is None:
            raise ReferenceFormatError(f"unsupported digest algorithm {alg!r} in {text!r}")
        if len(hx) != expected or not re.fullmatch(r"[a-f0-9]+", hx):
            raise ReferenceFormatError(
                f"invalid {alg} digest {text!r}", f"expected {expected} lowercase hex characters"
            )
        return cls(alg, hx)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @property
    def short(self) -> str:
        return f"{self.algorithm}:{self.hex[:SHORT]}"


SHORT = 12  #: hex digits shown for a digest or an ID in messages and tables


def short_digest(text: str) -> str:
    """``sha256:0123456789ab`` for messages; text without an algorithm is cut the same way."""
    alg, sep, hx = text.partition(":")
    return f"{alg}:{hx[:SHORT]}" if sep else text[:SHORT]


def short_hex(text: str) -> str:
    """``0123456789ab``: the first hex digits of a digest or an ID, for narrow columns."""
    return text.rpartition(":")[2][:SHORT]
