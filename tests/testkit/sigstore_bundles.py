"""Real sigstore bundles for the keyless tests: the test assets of pypi-attestations' source
distribution on PyPI (Apache-2.0, Copyright Trail of Bits), unpacked by
scripts/fetch-sigstore-fixtures.sh (pinned version and SHA-256). Nothing of it is copied into
this repository.

- ``PROD_BUNDLE`` was made in GitHub Actions for pypi-attestation-models 0.0.4a2's sdist: a
  Fulcio certificate of Sigstore's public-good instance, Rekor (dsse 0.0.1) entry with an
  inclusion proof, checkpoint and inclusion promise. It verifies offline against the trusted
  root shipped inside sigstore-python.
- ``STAGING_BUNDLE`` was made with Sigstore's staging instance (an e-mail identity): a real
  bundle that must fail against the production root.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from testkit.tools import unavailable

DEFAULT_ROOT = "/usr/local/share/patchwarden/pypi-attestations"
PROD_BUNDLE = "pypi_attestation_models-0.0.4a2.tar.gz.sigstore"
PROD_ARTIFACT = "pypi_attestation_models-0.0.4a2.tar.gz"
PROD_ISSUER = "https://token.actions.githubusercontent.com"
PROD_SUBJECT = (
    "https://github.com/trailofbits/pypi-attestation-models/.github/workflows/release.yml"
    "@refs/tags/v0.0.4a2"
)
PYPI_PUBLISH = "https://docs.pypi.org/attestations/publish/v1"
STAGING_BUNDLE = "rfc8785-0.1.2-py3-none-any.whl.sigstore"
STAGING_ARTIFACT = "rfc8785-0.1.2-py3-none-any.whl"
STAGING_SUBJECT = "william@yossarian.net"
STAGING_ISSUER = "https://github.com/login/oauth"


@dataclass(frozen=True)
class Assets:
    dir: Path

    def bundle(self, name: str = PROD_BUNDLE) -> bytes:
        return (self.dir / name).read_bytes()

    def digest(self, artifact: str = PROD_ARTIFACT) -> str:
        return "sha256:" + hashlib.sha256((self.dir / artifact).read_bytes()).hexdigest()


def sigstore_assets() -> Assets:
    root = Path(os.environ.get("PATCHWARDEN_SIGSTORE_FIXTURES_ROOT", DEFAULT_ROOT))
    d = root / "assets"
    if (d / PROD_BUNDLE).is_file():
        return Assets(d)
    msg = (
        f"sigstore bundle fixtures are missing under {root}: run "
        "scripts/fetch-sigstore-fixtures.sh (pypi-attestations' sdist from PyPI)"
    )
    unavailable(msg)


def staging_root() -> str:
    """Sigstore's staging trusted root, as shipped inside sigstore-python."""
    store = files("sigstore") / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev"
    return str(store / "trusted_root.json")
