"""`registry promote` and `registry tags` against real distribution registries (one plain,
one with token auth); skopeo inspects and copies the results as an independent client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from patchwarden.app.promote import Promoter
from patchwarden.app.trust.model import Expected
from patchwarden.app.trust.verifier import Verifier
from patchwarden.core.ref import parse_reference
from patchwarden.devtools import skopeo
from patchwarden.devtools.cosign import Signer
from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.errors import NotFoundError
from patchwarden.registry import RegistryClient
from patchwarden.registry.writer import RegistryWriter
from patchwarden.store import open_store
from patchwarden.store.promotions import PromotionLog
from patchwarden.trust.keys import parse_public_key
from patchwarden.trust.simple_signing import cosign_tag
from testkit.cli_process import cli, cli_env

pytestmark = pytest.mark.integration


def token_config(tmp: Path, reg: RegistryServer) -> Path:
    user = reg.username
    cfg = tmp / "patchwarden.yaml"
    cfg.write_text(f"registries:\n  {reg.host}:\n    username: {user}\n    password_env: PW_TEST\n")
    return cfg


def test_same_registry_promotion_mounts_multiarch_with_signature(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns = f"p{uuid.uuid4().hex[:6]}"
    R = plain_registry.host
    digest = pusher.index(plain_registry, f"{ns}/dev/app", "1.0", salt=ns)
    src = parse_reference(f"{R}/{ns}/dev/app:1.0")
    signer = Signer("ecdsa")
    with RegistryClient() as c:
        signer.sign_image(RegistryWriter(c), src, digest)
        res = Promoter(c).promote(src, parse_reference(f"{R}/{ns}/prod/app"))
    assert res.outcome == "promoted" and res.digest == digest
    assert res.stats.blobs_uploaded == 0 and res.stats.blobs_mounted >= 4
    assert res.platforms == ("linux/amd64", "linux/arm64")
    assert cosign_tag(digest) in res.stats.referrers
    assert skopeo.inspect_digest(f"{R}/{ns}/prod/app:1.0") == digest
    out = tmp_path / "copy"
    skopeo._run(
        [
            "copy",
            "--all",
            "--src-tls-verify=false",
            f"docker://{R}/{ns}/prod/app:1.0",
            f"oci:{out}:x",
        ]
    )
    assert (out / "index.json").is_file()
    with RegistryClient() as c:
        key = parse_public_key(signer.public_pem(), "team.pub")
        v = Verifier(c).verify(parse_reference(f"{R}/{ns}/prod/app:1.0"), Expected(keys=(key,)))
        assert v.verified, v.reason
        again = Promoter(c).promote(src, parse_reference(f"{R}/{ns}/prod/app"))
    assert again.outcome == "unchanged"
    assert again.stats.blobs_uploaded == 0 and again.stats.blobs_mounted == 0


def test_cross_registry_promotion_to_token_registry_recorded(
    plain_registry: RegistryServer, token_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns = f"x{uuid.uuid4().hex[:6]}"
    digest = pusher.image(plain_registry, f"{ns}/app", "2.1", salt=ns)
    token_config(tmp_path, token_registry)
    state = tmp_path / "state.db"
    dst = f"{token_registry.host}/{ns}/central:2.1"
    env = {"PW_TEST": token_registry.password, "PATCHWARDEN_ACTOR": "ci-bot"}
    proc = cli(
        "registry",
        "promote",
        f"{plain_registry.host}/{ns}/app:2.1",
        dst,
        "--state",
        str(state),
        "--format",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["outcome"] == "promoted" and doc["digest"] == digest
    assert doc["copy"]["blobs_uploaded"] == 2  # config + layer, streamed and digest-checked
    assert token_registry.password not in proc.stdout + proc.stderr
    assert skopeo.inspect_digest(dst, creds=token_registry.creds) == digest
    with open_store(str(state)) as store:
        (rec,) = PromotionLog(store).history()
    assert (rec.destination, rec.digest, rec.actor, rec.outcome) == (
        dst,
        digest,
        "ci-bot",
        "promoted",
    )
    assert rec.source.endswith(f"/{ns}/app:2.1@{digest}")
    tags = cli(
        "registry",
        "tags",
        f"{token_registry.host}/{ns}/central",
        "--created",
        "--format",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert tags.returncode == 0, tags.stderr
    (t,) = json.loads(tags.stdout)["tags"]
    assert t["tag"] == "2.1" and t["digest"] == digest and t["created"].startswith("2024")


def test_immutable_tag_is_never_moved(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns = f"i{uuid.uuid4().hex[:6]}"
    R = plain_registry.host
    d1 = pusher.image(plain_registry, f"{ns}/app", "1", salt=f"{ns}1")
    pusher.image(plain_registry, f"{ns}/app", "2", salt=f"{ns}2")
    assert (
        cli(
            "registry",
            "promote",
            f"{R}/{ns}/app:1",
            f"{R}/{ns}/prod:stable",
            "--no-record",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    proc = cli(
        "registry",
        "promote",
        f"{R}/{ns}/app:2",
        f"{R}/{ns}/prod:stable",
        "--immutable",
        "--no-record",
        cwd=tmp_path,
    )
    assert proc.returncode == 3 and "--immutable never overwrites a tag" in proc.stderr
    assert skopeo.inspect_digest(f"{R}/{ns}/prod:stable") == d1


def test_trust_gate_refuses_unsigned_promotion(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns = f"g{uuid.uuid4().hex[:6]}"
    R = plain_registry.host
    pusher.image(plain_registry, f"{ns}/app", "1", salt=ns)
    (tmp_path / "k.pub").write_bytes(Signer("ecdsa").public_pem())
    (tmp_path / "patchwarden.yaml").write_text(
        f"trust:\n  - match: '{R}/{ns}/*'\n    keys: [k.pub]\n"
    )
    proc = cli(
        "registry", "promote", f"{R}/{ns}/app:1", f"{R}/{ns}/prod:1", "--no-record", cwd=tmp_path
    )
    assert proc.returncode == 6, proc.stderr
    assert "refused" in proc.stderr and "found no signature" in proc.stderr
    with RegistryClient() as c, pytest.raises(NotFoundError):
        c.list_tags(parse_reference(f"{R}/{ns}/prod"))  # nothing was written


def test_killed_promotion_leaves_no_destination_tag(
    plain_registry: RegistryServer, token_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns = f"k{uuid.uuid4().hex[:6]}"
    digest = pusher.index(
        plain_registry,
        f"{ns}/app",
        "3.0",
        salt=ns,
        platforms=("linux/amd64", "linux/arm64", "linux/s390x"),
    )
    token_config(tmp_path, token_registry)
    dst = f"{token_registry.host}/{ns}/central:3.0"
    with RegistryProxy(plain_registry.host) as proxy:
        # the registry stalls on blobs (429 with Retry-After) once the copy is under way
        proxy.throttle(r"/blobs/sha256:", 1000, method="GET")
        env = cli_env({"PW_TEST": token_registry.password})
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "patchwarden.cli.main",
                "registry",
                "promote",
                f"{proxy.host}/{ns}/app:3.0",
                dst,
                "--no-record",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while (
            proxy.count("GET", "blobs") < 1 and time.monotonic() < deadline and proc.poll() is None
        ):
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    assert proc.returncode != 0
    assert "3.0" not in _tags(token_registry, f"{ns}/central")
    env2 = {"PW_TEST": token_registry.password}
    done = cli(
        "registry",
        "promote",
        f"{plain_registry.host}/{ns}/app:3.0",
        dst,
        "--no-record",
        cwd=tmp_path,
        env=env2,
    )
    assert done.returncode == 0, done.stderr
    assert skopeo.inspect_digest(dst, creds=token_registry.creds) == digest


def _tags(reg: RegistryServer, repo: str) -> list[str]:
    try:
        return skopeo.list_tags(f"{reg.host}/{repo}", creds=reg.creds)
    except skopeo.SkopeoError:
        return []  # the repository does not exist at all
