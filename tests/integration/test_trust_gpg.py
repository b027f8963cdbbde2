"""OpenPGP simple signing as skopeo writes it (`skopeo copy --sign-by` into a registries.d
lookaside-staging directory, with a throwaway key made by `gpg --batch`), verified by
`patchwarden verify --gpg-key --lookaside`; and the tamper cases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from patchwarden.devtools.oci_builder import build_image
from patchwarden.devtools.registry_server import RegistryServer
from testkit.cli_process import cli
from testkit.tools import unavailable

pytestmark = pytest.mark.integration


def gpg(home: Path, *args: str) -> str:
    proc = subprocess.run(
        ["gpg", "--batch", "--no-tty", "--homedir", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def new_key(home: Path, name: str) -> str:
    home.mkdir(mode=0o700)
    gpg(
        home,
        "--passphrase",
        "",
        "--quick-gen-key",
        f"{name} <{name}@example.com>",
        "ed25519",
        "sign",
        "never",
    )
    out = gpg(home, "--with-colons", "--fingerprint")
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


@dataclass(frozen=True)
class Signed:
    tmp: Path
    pub: Path  # the release key (armored)
    lookaside: Path  # where skopeo wrote the signatures
    repo: str
    digests: dict[str, str]  # tag ("signed", "unsigned") -> manifest digest
    host: str


@pytest.fixture(scope="module")
def signed(plain_registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Signed:
    if shutil.which("gpg") is None:  # Debian: gnupg (scripts/install-system-deps.sh)
        unavailable("gpg is not installed; OpenPGP signature tests cannot run")
    tmp = tmp_path_factory.mktemp("gpg")
    home = tmp / "gnupg"
    fpr = new_key(home, "release")
    pub = tmp / "release.asc"
    pub.write_text(gpg(home, "--armor", "--export", fpr))
    lookaside = tmp / "sigstore"
    regd = tmp / "registries.d"
    regd.mkdir()
    (regd / "default.yaml").write_text(
        f"docker:\n  {plain_registry.host}:\n    lookaside-staging: file://{lookaside}\n"
    )
    repo = f"gpg/app{uuid.uuid4().hex[:6]}"
    digests: dict[str, str] = {}
    for tag in ("signed", "unsigned"):
        layout = tmp / f"layout-{tag}"
        build_image(layout, tag, salt=f"{repo}{tag}")
        args = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--registries.d", str(regd)]
        if tag == "signed":
            args += ["--sign-by", fpr]
        proc = subprocess.run(
            [*args, f"oci:{layout}:{tag}", f"docker://{plain_registry.host}/{repo}:{tag}"],
            env={**os.environ, "GNUPGHOME": str(home)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        inspect = subprocess.run(
            [
                "skopeo",
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                f"docker://{plain_registry.host}/{repo}:{tag}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        digests[tag] = inspect.stdout.strip()
    hx = str(digests["signed"]).split(":")[1]
    assert (lookaside / f"{repo}@sha256={hx}" / "signature-1").is_file(), (
        "skopeo wrote the signature"
    )
    return Signed(tmp, pub, lookaside, repo, digests, plain_registry.host)


def test_skopeo_gpg_signature_verifies(signed: Signed) -> None:
    tmp = signed.tmp
    image = f"{signed.host}/{signed.repo}:signed"
    proc = cli(
        "verify",
        image,
        "--gpg-key",
        str(signed.pub),
        "--lookaside",
        str(signed.lookaside),
        "--format",
        "json",
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (res,) = json.loads(proc.stdout)["results"]
    assert res["verified"] and res["digest"] == signed.digests["signed"]
    assert res["signatures"][0]["kind"] == "gpg" and "release.asc (OpenPGP)" in res["signed_by"][0]


def test_gpg_tamper_cases(signed: Signed) -> None:
    tmp, lookaside, repo = signed.tmp, signed.lookaside, signed.repo
    host = signed.host
    # missing: the unsigned image has no lookaside entry
    proc = cli(
        "verify",
        f"{host}/{repo}:unsigned",
        "--gpg-key",
        str(signed.pub),
        "--lookaside",
        str(lookaside),
        cwd=tmp,
    )
    assert proc.returncode == 6 and "found no signature" in proc.stdout
    # a genuine signature of the signed image copied to the unsigned one
    d = signed.digests
    src = lookaside / f"{repo}@sha256={d['signed'].split(':')[1]}"
    dst = lookaside / f"{repo}@sha256={d['unsigned'].split(':')[1]}"
    shutil.copytree(src, dst)
    proc = cli(
        "verify",
        f"{host}/{repo}:unsigned",
        "--gpg-key",
        str(signed.pub),
        "--lookaside",
        str(lookaside),
        cwd=tmp,
    )
    assert proc.returncode == 6 and "for another image" in proc.stdout
    # another key
    other_home = tmp / "other-gnupg"
    fpr = new_key(other_home, "intruder")
    other = tmp / "intruder.asc"
    other.write_text(gpg(other_home, "--armor", "--export", fpr))
    proc = cli(
        "verify",
        f"{host}/{repo}:signed",
        "--gpg-key",
        str(other),
        "--lookaside",
        str(lookaside),
        cwd=tmp,
    )
    assert proc.returncode == 6 and "signed by a key that is not expected" in proc.stdout
    # edited signature bytes
    sig = src / "signature-1"
    data = bytearray(sig.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp / "bad-lookaside" / f"{repo}@sha256={d['signed'].split(':')[1]}"
    bad.mkdir(parents=True)
    (bad / "signature-1").write_bytes(bytes(data))
    proc = cli(
        "verify",
        f"{host}/{repo}:signed",
        "--gpg-key",
        str(signed.pub),
        "--lookaside",
        str(tmp / "bad-lookaside"),
        cwd=tmp,
    )
    assert proc.returncode == 6, proc.stdout
    assert "none acceptable" in proc.stdout
