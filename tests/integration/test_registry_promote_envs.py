"""`registry promote --from-env/--to-env` between registry environments of patchwarden.yaml, on
a real registry, with a keyless trust rule: the bundle (made by a run-time *test* Sigstore
instance, see devtools/sigstore_bundle.py: no real Fulcio/Rekor can run here) travels with
the image through the referrers tag schema and verifies at every stage; skopeo checks the
results."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from patchwarden.app.trust.bundles import BundleChecker
from patchwarden.app.trust.model import Expected
from patchwarden.app.trust.verifier import Verifier
from patchwarden.core.ref import parse_reference
from patchwarden.devtools import skopeo
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.sigstore_bundle import TestInstance, attach_bundle
from patchwarden.devtools.skopeo import Pusher
from patchwarden.registry import RegistryClient
from patchwarden.registry.model import MEDIA_OCI_MANIFEST
from patchwarden.registry.writer import RegistryWriter
from patchwarden.trust.bundle import Identity
from testkit.cli_process import cli

pytestmark = pytest.mark.integration
ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1"


def test_promote_through_environments_with_keyless_trust(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    R = plain_registry.host
    ns = f"env{uuid.uuid4().hex[:6]}"
    inst = TestInstance()
    root = tmp_path / "trusted_root.json"
    root.write_text(json.dumps(inst.trusted_root()))
    d1 = pusher.image(plain_registry, f"{ns}/dev/app", "1.0", salt=f"{ns}1")
    d2 = pusher.image(plain_registry, f"{ns}/dev/app", "1.1", salt=f"{ns}2")
    with RegistryClient() as c:
        for tag, digest in (("1.0", d1), ("1.1", d2)):
            bundle = inst.sign_digest(digest, subject=SUBJECT, issuer=ISSUER)
            image = parse_reference(f"{R}/{ns}/dev/app:{tag}")
            attach_bundle(RegistryWriter(c), image, digest, MEDIA_OCI_MANIFEST, bundle)
    unsigned = pusher.image(plain_registry, f"{ns}/dev/app", "1.2", salt=f"{ns}3")
    (tmp_path / "patchwarden.yaml").write_text(
        f"registries:\n  {R}:\n    insecure: true\n"
        f"trust:\n  - match: '{R}/{ns}/*'\n    trusted_root: {root}\n"
        f"    identities: [{{issuer: '{ISSUER}', subject_regex: 'https://github\\.com/acme/.*'}}]\n"
        "environments:\n"
        f"  - name: dev\n    registry: {{repository: {R}/{ns}/dev/app}}\n"
        f"  - name: staging\n    registry: {{repository: {R}/{ns}/staging/app}}\n"
        f"  - name: prod\n    registry: {{repository: {R}/{ns}/prod/app, tag: stable, immutable: true}}\n"
        "  - name: box\n    engine: unix:///nowhere.sock\n    containers: {label: env=box}\n"
    )
    state = ["--state", str(tmp_path / "state.db")]

    staged = cli(
        "registry",
        "promote",
        "--from-env",
        "dev",
        "--to-env",
        "staging",
        "1.0",
        *state,
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert staged.returncode == 0, staged.stderr
    doc = json.loads(staged.stdout)
    assert doc["digest"] == d1 and doc["destination"].endswith(f"{ns}/staging/app:1.0")
    assert skopeo.inspect_digest(f"{R}/{ns}/staging/app:1.0") == d1
    with RegistryClient() as c:  # the bundle came along: the copy verifies where it landed
        v = Verifier(c, bundles=BundleChecker(c)).verify(
            parse_reference(f"{R}/{ns}/staging/app:1.0"),
            Expected(
                identities=(Identity(issuer=ISSUER, subject=SUBJECT),), trusted_root=str(root)
            ),
        )
    assert v.verified, v.reason

    to_prod = cli(
        "registry",
        "promote",
        "--from-env",
        "staging",
        "--to-env",
        "prod",
        "1.0",
        *state,
        cwd=tmp_path,
    )
    assert to_prod.returncode == 0, to_prod.stderr
    assert skopeo.inspect_digest(f"{R}/{ns}/prod/app:stable") == d1

    # prod is immutable (from its environment): stable never moves to 1.1
    moved = cli(
        "registry",
        "promote",
        "--from-env",
        "dev",
        "--to-env",
        "prod",
        "1.1",
        *state,
        cwd=tmp_path,
    )
    assert moved.returncode == 3 and "never overwrites a tag" in " ".join(moved.stderr.split())
    assert skopeo.inspect_digest(f"{R}/{ns}/prod/app:stable") == d1

    # the trust gate applies to environment promotions too: unsigned 1.2 is refused
    refused = cli(
        "registry",
        "promote",
        "--from-env",
        "dev",
        "--to-env",
        "staging",
        "1.2",
        *state,
        cwd=tmp_path,
    )
    assert refused.returncode == 6
    assert "found no signature" in " ".join((refused.stderr + refused.stdout).split())
    with pytest.raises(skopeo.SkopeoError):
        skopeo.inspect_digest(f"{R}/{ns}/staging/app:1.2")
    assert unsigned != d1

    wrong = cli("registry", "promote", "--from-env", "box", "--to-env", "prod", "1.0", cwd=tmp_path)
    assert wrong.returncode == 2 and "its target is engine" in " ".join(wrong.stderr.split())
