"""Real cosign signatures for tests: containers/image's ``signature/fixtures`` (Apache-2.0,
Copyright the containers/image authors), read at test time from Debian's
golang-github-containers-image-dev (installed, or unpacked by
scripts/fetch-signature-fixtures.sh). Nothing of it is copied into this repository.

The fixtures keep an image manifest (``dir-img-cosign-valid/manifest.json``), cosign's
``cosign.pub`` and signatures cosign made (``signature-N``: the payload and its
``dev.cosignproject.cosign/signature`` annotation, in containers/image's storage format).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from patchwarden.core.digest import Digest
from patchwarden.core.ref import ImageRef
from patchwarden.devtools.cosign import attach_signature
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.registry.writer import RegistryWriter
from testkit.tools import unavailable

_REL = "usr/share/gocode/src/github.com/containers/image/signature/fixtures"
ROOTS = (
    Path("/"),
    Path(
        os.environ.get(
            "PATCHWARDEN_SIGNATURE_FIXTURES_ROOT", "/usr/local/share/patchwarden/containers-image"
        )
    ),
)


def fixtures_dir() -> Path:
    for root in ROOTS:
        d = root / _REL
        if (d / "cosign.pub").is_file():
            return d
    msg = (
        "containers/image signature fixtures are missing: run scripts/fetch-signature-fixtures.sh "
        "(Debian's golang-github-containers-image-dev)"
    )
    unavailable(msg)


@dataclass(frozen=True)
class CosignSignature:
    payload: bytes
    signature: bytes

    @classmethod
    def read(cls, path: Path) -> CosignSignature:
        """containers/image's format: ``\\x00sigstore-json\\n`` then JSON with the payload
        (base64) and cosign's annotations."""
        raw = path.read_bytes()
        prefix = b"\x00sigstore-json\n"
        assert raw.startswith(prefix), f"{path} is not a sigstore signature"
        doc = json.loads(raw[len(prefix) :])
        sig = doc["annotations"]["dev.cosignproject.cosign/signature"]
        return cls(base64.b64decode(doc["payload"]), base64.b64decode(sig))


def seed_manifest(
    reg: RegistryServer, writer: RegistryWriter, image: ImageRef, raw: bytes, media_type: str
) -> str:
    """Push a fixture manifest whose blobs we do not have: placeholder blobs are linked into the
    registry's storage first (distribution checks that referenced blobs exist, not their
    bytes). Only the manifest and its digest matter to signature checks."""
    doc = json.loads(raw)
    storage = reg.dir / "storage" / "docker" / "registry" / "v2"
    for desc in [doc["config"], *doc["layers"]]:
        d = Digest.parse(desc["digest"])
        data = storage / "blobs" / d.algorithm / d.hex[:2] / d.hex / "data"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_bytes(b"placeholder")
        link = (
            storage / "repositories" / image.repository / "_layers" / d.algorithm / d.hex / "link"
        )
        link.parent.mkdir(parents=True, exist_ok=True)
        link.write_text(str(d))
    return writer.put_manifest(image, image.tag or "latest", raw, media_type)


def attach_fixture(
    writer: RegistryWriter,
    image: ImageRef,
    digest: str,
    sig: CosignSignature,
    *,
    tag: str | None = None,
) -> str:
    return attach_signature(writer, image, digest, sig.payload, sig.signature, tag=tag)
