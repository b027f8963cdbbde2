"""`rebuild` with a signing key: the pushed image is signed in cosign's format, and what was
written is checked by patchwarden's own `verify`, by OpenSSL (an independent implementation of
the ECDSA check, on the payload and signature as skopeo reads them from the registry) and by
skopeo's `sigstoreSigned` policy. Debian's skopeo has sigstore verification compiled out
("Debian-local change: sigstore disabled"): there it can only show that it found our
signature as a sigstore attachment (an unsigned image is refused with "no signature exists"
instead); a skopeo with sigstore built in must accept the image.

A signing failure (the registry refuses the signature manifest, through a proxy) leaves no
tag behind; a wrong key password stops before anything is built, and is never printed.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.trust.simple_signing import COSIGN_TYPE, cosign_tag
from testkit.podman import push_web_image
from testkit.rebuild_setup import PASSWORD, WEB, as_json, cli, env, keypair, ns, project, tags

pytestmark = pytest.mark.integration
__all__ = ["env", "ns"]  # fixtures
NO_GATE = "    gates: {new_vulnerabilities: off}\n"


def signed_project(tmp: Path, host: str, ns: str, dest_host: str | None = None) -> Path:
    key, _ = keypair(tmp / "keys")
    return project(
        tmp / "p",
        f"{host}/{ns}/base:1",
        f"{dest_host or host}/{ns}/app",
        WEB,
        NO_GATE + f"    signing_key: {key}\n",
    )


def skopeo_policy(tmp: Path, host: str, pub: Path) -> list[str]:
    """skopeo's global options for a `sigstoreSigned` policy on ``host``."""
    policy = {
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {
                host: [
                    {
                        "type": "sigstoreSigned",
                        "keyPath": str(pub),
                        "signedIdentity": {"type": "matchRepository"},
                    }
                ]
            }
        },
    }
    (tmp / "policy.json").write_text(json.dumps(policy))
    regd = tmp / "registries.d"
    regd.mkdir(exist_ok=True)
    (regd / "local.yaml").write_text(f"docker:\n  {host}:\n    use-sigstore-attachments: true\n")
    return ["--policy", str(tmp / "policy.json"), "--registries.d", str(regd)]


def skopeo_copy(opts: list[str], ref: str, out: Path) -> subprocess.CompletedProcess[str]:
    argv = ["skopeo", *opts, "copy", "--src-tls-verify=false", f"docker://{ref}", f"dir:{out}"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_signed_build_verifies_with_three_checkers(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    proj = signed_project(tmp_path, host, ns)
    pub = tmp_path / "keys" / "cosign.pub"
    run = cli({**env, "COSIGN_PASSWORD": PASSWORD}, str(proj), "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    built = as_json(run)["builds"][0]
    digest = built["digest"]
    assert built["outcome"] == "pushed" and built["signature"] == cosign_tag(digest)
    names = [s["name"] for s in built["steps"]]
    assert names[-2:] == ["sign", "push"], names
    assert PASSWORD not in run.stdout + run.stderr
    dest = f"{host}/{ns}/app"
    assert cosign_tag(digest) in tags(host, f"{ns}/app")

    # 1. patchwarden verify, by tag (the moving tag resolves to the signed digest)
    verify = subprocess.run(
        [*_pw(), "verify", f"{dest}:latest", "--key", str(pub), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["results"][0]["verified"] is True

    # 2. OpenSSL checks the signature over the payload, both as skopeo reads them
    raw = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{dest}:{cosign_tag(digest)}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    layer = json.loads(raw)["layers"][0]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    sig = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
    sigdir = tmp_path / "sig"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            f"docker://{dest}:{cosign_tag(digest)}",
            f"dir:{sigdir}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    payload_file = sigdir / layer["digest"].split(":")[1]
    payload = json.loads(payload_file.read_bytes())
    assert payload["critical"]["type"] == COSIGN_TYPE
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert payload["critical"]["identity"]["docker-reference"] == dest
    (tmp_path / "sig.bin").write_bytes(sig)
    ossl = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(pub),
            "-signature",
            str(tmp_path / "sig.bin"),
            str(payload_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ossl.returncode == 0 and "Verified OK" in ossl.stdout, ossl.stdout + ossl.stderr

    # 3. skopeo's sigstoreSigned policy, against the unsigned base as the control
    opts = skopeo_policy(tmp_path, host, pub)
    signed = skopeo_copy(opts, f"{dest}:latest", tmp_path / "o1")
    unsigned = skopeo_copy(opts, f"{host}/{ns}/base:1", tmp_path / "o2")
    assert unsigned.returncode != 0 and "no signature exists" in unsigned.stderr, unsigned.stderr
    if "sigstore disabled" in signed.stderr:  # Debian's build: found, cannot check
        assert signed.returncode != 0
    else:
        assert signed.returncode == 0, signed.stderr


def test_refused_signature_leaves_no_tag(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    with RegistryProxy(host) as proxy:
        proxy.throttle(r"/manifests/sha256-[0-9a-f]+\.sig$", 1000, method="PUT", retry_after="0")
        proj = signed_project(tmp_path, host, ns, dest_host=proxy.host)
        run = cli({**env, "COSIGN_PASSWORD": PASSWORD}, str(proj), "--format", "json")
    assert run.returncode == 3, run.stdout + run.stderr
    result = as_json(run)["builds"][0]
    assert result["outcome"] == "failed" and result["tags"] == [] and result["digest"] is None
    failed = [s for s in result["steps"] if not s["ok"]]
    assert [s["name"] for s in failed] == ["sign"], result["steps"]
    assert "no tag was pushed" in result["reason"], result["reason"]
    assert "deleted" in result["reason"], result["reason"]
    assert tags(host, f"{ns}/app") == []


def test_wrong_password_stops_before_building(
    env: dict[str, str], plain_registry: RegistryServer, tmp_path: Path, ns: str
) -> None:
    host = plain_registry.host
    push_web_image(tmp_path / "l1", host, f"{ns}/base", "1", version="v1")
    proj = signed_project(tmp_path, host, ns)
    wrong = "not-the-password-4711"
    run = cli({**env, "COSIGN_PASSWORD": wrong}, str(proj), "--format", "json")
    assert run.returncode == 3, run.stdout + run.stderr
    result = as_json(run)["builds"][0]
    assert "wrong password" in result["reason"] and "COSIGN_PASSWORD" in result["reason"]
    assert [s["name"] for s in result["steps"]] == ["signing key"]
    assert wrong not in run.stdout + run.stderr
    assert tags(host, f"{ns}/app") == []
    unset = {k: v for k, v in env.items() if k not in ("COSIGN_PASSWORD",)}
    run = cli(unset, str(proj), "--format", "json")
    assert "no password is set" in as_json(run)["builds"][0]["reason"]


def _pw() -> list[str]:
    import sys

    return [sys.executable, "-m", "patchwarden.cli.main"]
