"""The trust gate in `check` and `update` (real CLI process, real registry, skopeo-pushed
images, our own cosign-shaped signatures): an unsigned candidate is blocked, fail closed, with
what was expected and what was found; a signed one goes through; registries.allowed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.devtools.cosign import Signer
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.registry import RegistryClient
from patchwarden.registry.writer import RegistryWriter
from testkit.cli_process import cli

pytestmark = pytest.mark.integration


@pytest.fixture()
def project(plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path) -> dict[str, Any]:
    R = plain_registry.host
    ns = f"t{uuid.uuid4().hex[:8]}"
    d = {
        t: pusher.image(plain_registry, f"{ns}/app", t, salt=f"{ns}{t}") for t in ("1.0.0", "1.0.1")
    }
    signer = Signer("ecdsa")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "team.pub").write_bytes(signer.public_pem())
    (tmp_path / "compose.yaml").write_text(f"services:\n  app:\n    image: {R}/{ns}/app:1.0.0\n")
    (tmp_path / "patchwarden.yaml").write_text(
        f"registries:\n  {R}:\n    insecure: true\n"
        f"trust:\n  - match: '{R}/{ns}/*'\n    keys: [keys/team.pub]\n"
    )
    return {"R": R, "ns": ns, "d": d, "signer": signer, "dir": tmp_path}


def sign(p: dict[str, Any], tag: str) -> None:
    image = parse_reference(f"{p['R']}/{p['ns']}/app:{tag}")
    with RegistryClient() as c:
        p["signer"].sign_image(RegistryWriter(c), image, p["d"][tag])


def test_check_blocks_unsigned_candidate_then_allows_signed(project: dict[str, Any]) -> None:
    d = project["dir"]
    proc = cli("check", "--format", "json", "--no-cache", cwd=d)
    assert proc.returncode == 6, proc.stderr
    (res,) = json.loads(proc.stdout)["results"]
    assert res["status"] == "blocked"
    assert "candidate 1.0.1@sha256:" in res["reason"]
    assert "expected a signature by" in res["reason"] and "team.pub" in res["reason"]
    assert "found no signature" in res["reason"]
    assert res["verification"]["allowed"] is False
    assert res["verification"]["verifications"][0]["digest"] == project["d"]["1.0.1"]
    table = cli("check", "--no-cache", cwd=d)
    assert table.returncode == 6 and "Blocked by trust policy (1)" in table.stdout

    sign(project, "1.0.1")
    proc = cli("check", "--format", "json", "--no-cache", cwd=d)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (res,) = json.loads(proc.stdout)["results"]
    assert res["status"] == "outdated" and res["candidate"]["tag"] == "1.0.1"
    assert res["verification"]["allowed"] is True
    assert res["verification"]["verifications"][0]["verified"] is True


def test_update_refuses_unsigned_and_writes_signed(project: dict[str, Any]) -> None:
    d = project["dir"]
    before = (d / "compose.yaml").read_text()
    proc = cli("update", ".", "--no-cache", cwd=d)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    text = proc.stdout + proc.stderr
    assert "blocked: candidate 1.0.1" in text and "found no signature" in text
    assert (d / "compose.yaml").read_text() == before
    sign(project, "1.0.1")
    proc = cli("update", ".", "--no-cache", cwd=d)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "app:1.0.1" in (d / "compose.yaml").read_text()


def test_signature_by_other_key_blocks(project: dict[str, Any]) -> None:
    image = parse_reference(f"{project['R']}/{project['ns']}/app:1.0.1")
    with RegistryClient() as c:
        Signer("ecdsa").sign_image(RegistryWriter(c), image, project["d"]["1.0.1"])
    proc = cli("check", "--format", "json", "--no-cache", cwd=project["dir"])
    assert proc.returncode == 6
    (res,) = json.loads(proc.stdout)["results"]
    assert "not signed by any expected key" in res["reason"]


def test_registries_allowed_blocks_outside_references(project: dict[str, Any]) -> None:
    d = project["dir"]
    cfg = (
        (d / "patchwarden.yaml")
        .read_text()
        .replace("registries:\n", "registries:\n  allowed: ['registry.example.com/*']\n")
    )
    (d / "patchwarden.yaml").write_text(cfg)
    proc = cli("check", "--format", "json", "--no-cache", cwd=d)
    assert proc.returncode == 6
    (res,) = json.loads(proc.stdout)["results"]
    assert res["status"] == "blocked"
    assert "is not in registries.allowed (registry.example.com/*)" in res["reason"]


def test_bad_trust_config_is_a_usage_error(project: dict[str, Any]) -> None:
    d = project["dir"]
    (d / "patchwarden.yaml").write_text("trust:\n  - match: 'x/*'\n")
    proc = cli("check", "--no-cache", cwd=d)
    assert proc.returncode == 2
    assert "names no signer" in proc.stderr
    (d / "patchwarden.yaml").write_text(
        f"registries:\n  {project['R']}:\n    insecure: true\n"
        f"trust:\n  - match: '*'\n    keys: [keys/missing.pub]\n"
    )
    proc = cli("check", "--no-cache", cwd=d)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot read public key" in proc.stderr


def test_verify_without_flags_uses_trust_rules(project: dict[str, Any]) -> None:
    d, R, ns = project["dir"], project["R"], project["ns"]
    image = f"{R}/{ns}/app:1.0.1"
    proc = cli("verify", image, "--format", "json", cwd=d)
    assert proc.returncode == 6, proc.stderr
    (res,) = json.loads(proc.stdout)["results"]
    assert "team.pub" in res["expected"] and "found no signature" in res["reason"]
    sign(project, "1.0.1")
    proc = cli("verify", image, cwd=d)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("verified ")
    proc = cli("verify", f"{R}/elsewhere/app:1", cwd=d)
    assert proc.returncode == 2 and "no trust rule" in proc.stderr
