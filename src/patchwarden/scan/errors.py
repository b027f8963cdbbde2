"""Errors of the scanner (reading images). Messages say what, which layer, and what to do."""

from __future__ import annotations

from patchwarden.core.digest import short_digest
from patchwarden.errors import ExitCode, PatchwardenError


def short(digest: str) -> str:
    """``sha256:0123456789ab`` for messages."""
    return short_digest(digest) if ":" in digest else digest


class ScanError(PatchwardenError):
    """The scanner could not read an image."""


class HostileLayerError(ScanError):
    """A layer tries something no honest image does: path traversal, bombs, absurd sizes."""

    def __init__(self, layer: str, what: str) -> None:
        super().__init__(
            f"layer {short(layer)} refused: {what}",
            "this image is malformed or malicious; do not run it. If you trust it, rebuild "
            "it with a standard tool (the scanner's size and count limits are fixed)",
        )


class CorruptImageError(ScanError):
    """A blob or metadata file is truncated, undecodable or inconsistent."""


class LayerDigestError(CorruptImageError):
    """A blob's bytes do not hash to the digest its manifest names."""

    def __init__(self, layer: str, actual: str) -> None:
        super().__init__(
            f"layer {short(layer)} does not match its digest: expected {layer}, got {actual}",
            "the blob was corrupted in storage or transit; pull/copy the image again",
        )


class ImageSelectionError(ScanError):
    """The source exists but the requested image (tag, platform) is not in it."""

    exit_code = ExitCode.USAGE


class SourceNotFoundError(ScanError):
    """The archive, layout or directory named on the command line does not exist."""

    exit_code = ExitCode.USAGE


class TooManyFacts(Exception):
    """A cataloger stops early: one file yields more packages/paths than any real database.
    Raised from ``catalog``; the layer reader refuses the layer naming the file."""
