"""Registry (promotion) environments against the session's real distribution registry: the
digest goes dev -> staging -> prod repositories through ``registry promote`` (signatures along,
the trust gate first), each environment gated; skopeo reads the tags as an independent client.
A failing gate puts the tag back, a trust refusal exits 6 and writes nothing, and SIGKILL at
random moments followed by ``resume`` ends with every tag on the old or the new digest, as the
record says."""

from __future__ import annotations

import json
import os
import random
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.devtools import skopeo
from patchwarden.devtools.cosign import Signer
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher, SkopeoError
from patchwarden.registry import RegistryClient
from patchwarden.registry.writer import RegistryWriter
from patchwarden.store import open_store
from patchwarden.store.promotions import PromotionLog
from patchwarden.trust.simple_signing import cosign_tag
from testkit.rollout_setup import cli, cli_process, env_doc

pytestmark = pytest.mark.integration


def _tag(ref: str) -> str | None:
    """The digest ``ref`` names, read by skopeo; None when there is no such tag."""
    try:
        return skopeo.inspect_digest(ref)
    except SkopeoError:
        return None


def _config(tmp: Path, reg: RegistryServer, envs: list[dict[str, Any]], **extra: Any) -> Path:
    doc = {"registries": {reg.host: {"insecure": True}}, "environments": envs, **extra}
    path = tmp / "patchwarden.yaml"
    path.write_text(json.dumps(doc, indent=2))
    return path


def _env(name: str, repository: str, **kw: Any) -> dict[str, Any]:
    gates = kw.pop("gates", {})
    return {"name": name, "registry": {"repository": repository, **kw}, "gates": gates}


def test_promoted_through_staging_and_prod_tags_then_rolled_back(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns, R = f"r{uuid.uuid4().hex[:6]}", plain_registry.host
    before = pusher.image(plain_registry, f"{ns}/prod/web", "stable", salt=f"{ns}-old")
    digest = pusher.image(plain_registry, f"{ns}/dev/web", "1.4.2", salt=ns)
    signer = Signer("ecdsa")
    with RegistryClient() as c:
        signer.sign_image(RegistryWriter(c), parse_reference(f"{R}/{ns}/dev/web"), digest)
    (tmp_path / "k.pub").write_bytes(signer.public_pem())
    # prod's test sees staging's tag already on the digest (staging went first, gated)
    check_staging = f'test "$(skopeo inspect --tls-verify=false --format "{{{{.Digest}}}}" docker://{R}/{ns}/staging/web:1.4.2)" = "$PATCHWARDEN_ROLLOUT_DIGEST"'
    config = _config(
        tmp_path,
        plain_registry,
        [
            _env(
                "staging",
                f"{R}/{ns}/staging/web",
                gates={"tests": [{"run": 'test "$PATCHWARDEN_ROLLOUT_ENV" = staging'}]},
            ),
            _env(
                "prod",
                f"{R}/{ns}/prod/web",
                tag="stable",
                gates={"tests": [{"run": check_staging}], "soak": 0.5},
            ),
        ],
        trust=[{"match": f"{R}/{ns}/*", "keys": [str(tmp_path / "k.pub")]}],
    )
    state = tmp_path / "state.db"

    code, doc, err = cli(
        "start",
        f"{R}/{ns}/dev/web:1.4.2@{digest}",
        config=config,
        state=state,
        env={"PATCHWARDEN_ACTOR": "rollout-test"},
    )
    assert code == 0, (err, doc.get("stopped"))
    assert doc["status"] == "succeeded"
    assert _tag(f"{R}/{ns}/staging/web:1.4.2") == digest
    assert _tag(f"{R}/{ns}/prod/web:stable") == digest
    assert _tag(f"{R}/{ns}/prod/web:{cosign_tag(digest)}") is not None  # the signature too
    staging, prod = env_doc(doc, "staging"), env_doc(doc, "prod")
    assert staging["registry"]["source"] == f"{R}/{ns}/dev/web@{digest}"
    assert prod["registry"]["source"] == f"{R}/{ns}/staging/web@{digest}"
    assert prod["registry"]["before"] == before and prod["registry"]["state"] == "new"
    assert prod["registry"]["verification"]["allowed"] is True
    gates = [g["gate"] for g in prod["waves"][0]["gates"]]
    assert gates == ["deploy", "tests", "soak"]
    with open_store(str(state)) as store:  # recorded as promotions too, with who ran them
        rows = PromotionLog(store).history(limit=10)
    assert {(r.destination, r.outcome, r.actor) for r in rows} == {
        (f"{R}/{ns}/staging/web:1.4.2", "promoted", "rollout-test"),
        (f"{R}/{ns}/prod/web:stable", "promoted", "rollout-test"),
    }

    code, doc, err = cli("rollback", str(doc["id"]), config=config, state=state)
    assert code == 0, (err, doc)
    assert doc["status"] == "rolled-back"
    assert _tag(f"{R}/{ns}/prod/web:stable") == before
    assert _tag(f"{R}/{ns}/staging/web:1.4.2") is None  # it did not exist before the rollout


def test_failing_gate_puts_the_tag_back_and_prod_is_never_promoted(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns, R = f"f{uuid.uuid4().hex[:6]}", plain_registry.host
    old = pusher.image(plain_registry, f"{ns}/staging/web", "live", salt=f"{ns}-old")
    digest = pusher.image(plain_registry, f"{ns}/dev/web", "2.0.0", salt=ns)
    config = _config(
        tmp_path,
        plain_registry,
        [
            _env(
                "staging",
                f"{R}/{ns}/staging/web",
                tag="live",
                gates={"tests": [{"name": "smoke", "run": "echo smoke failed; exit 4"}]},
            ),
            _env("prod", f"{R}/{ns}/prod/web", tag="live"),
        ],
    )
    code, doc, err = cli(
        "start", f"{R}/{ns}/dev/web@{digest}", config=config, state=tmp_path / "s.db"
    )
    assert code == 3
    assert doc["stopped"]["environment"] == "staging" and doc["stopped"]["gate"] == "tests"
    assert "smoke exited 4: smoke failed" in doc["stopped"]["reason"]
    assert "stopped in staging, wave 0 by the tests gate" in err
    assert _tag(f"{R}/{ns}/staging/web:live") == old  # put back
    assert env_doc(doc, "staging")["registry"]["state"] == "old"
    assert _tag(f"{R}/{ns}/prod/web:live") is None  # never promoted
    assert env_doc(doc, "prod")["status"] == "pending"


def test_trust_refusal_exits_6_and_writes_nothing(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns, R = f"t{uuid.uuid4().hex[:6]}", plain_registry.host
    digest = pusher.image(plain_registry, f"{ns}/dev/web", "1.0.0", salt=ns)  # unsigned
    (tmp_path / "k.pub").write_bytes(Signer("ecdsa").public_pem())
    config = _config(
        tmp_path,
        plain_registry,
        [_env("central", f"{R}/{ns}/prod/web")],
        trust=[{"match": f"{R}/{ns}/*", "keys": [str(tmp_path / "k.pub")]}],
    )
    code, doc, err = cli(
        "start", f"{R}/{ns}/dev/web:1.0.0@{digest}", config=config, state=tmp_path / "s.db"
    )
    assert code == 6, err
    assert doc["stopped"]["gate"] == "trust" and "refused" in doc["stopped"]["reason"]
    assert "found no signature" in doc["stopped"]["reason"]
    assert _tag(f"{R}/{ns}/prod/web:1.0.0") is None


def _record(state: Path) -> dict[str, Any] | None:
    with open_store(str(state)) as store:
        rec = store.rollouts.latest()
    return None if rec is None else {"id": rec.id, "status": rec.status, **rec.state}


def _check_tags(state: Path, digests: dict[str, str | None]) -> None:
    """A tag the record calls old/new names that digest (in flight: either)."""
    rec = _record(state)
    if rec is None:
        return
    for env in rec["environments"]:
        reg = env.get("registry")
        if reg and reg["state"] in ("old", "new"):
            want = reg["before"] if reg["state"] == "old" else rec["digest"]
            assert _tag(reg["destination"]) == want, (env["name"], reg)


def test_sigkill_at_random_points_then_resume(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    seed = int(os.environ.get("PATCHWARDEN_CRASH_SEED") or random.randrange(1 << 30))
    print(f"PATCHWARDEN_CRASH_SEED={seed}")
    rng = random.Random(seed)
    ns, R = f"k{uuid.uuid4().hex[:6]}", plain_registry.host
    old = pusher.image(plain_registry, f"{ns}/prod/web", "stable", salt=f"{ns}-old")
    digest = pusher.image(plain_registry, f"{ns}/dev/web", "3.1.0", salt=ns)
    soak = {"soak": 1, "soak_interval": 0.2}
    config = _config(
        tmp_path,
        plain_registry,
        [
            _env("staging", f"{R}/{ns}/staging/web", gates=soak),
            _env("prod", f"{R}/{ns}/prod/web", tag="stable", gates=soak),
        ],
    )
    state = tmp_path / "state.db"
    args = ["start", f"{R}/{ns}/dev/web:3.1.0@{digest}"]
    kills = 0
    proc = cli_process(*args, config=config, state=state)
    for _ in range(5):
        try:
            proc.wait(rng.uniform(0.3, 3.5))
            break
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            kills += 1
        _check_tags(state, {})
        rec = _record(state)
        args = args if rec is None else ["resume", str(rec["id"])]
        proc = cli_process(*args, config=config, state=state)
    out, err = proc.communicate(timeout=300)
    doc = json.loads(out) if out.strip() else {}
    assert proc.returncode == 0, (seed, err, doc.get("stopped"))
    assert doc["status"] == "succeeded", seed
    assert _tag(f"{R}/{ns}/staging/web:3.1.0") == digest
    assert _tag(f"{R}/{ns}/prod/web:stable") == digest
    assert [env_doc(doc, e)["registry"]["state"] for e in ("staging", "prod")] == ["new", "new"]
    assert env_doc(doc, "prod")["registry"]["before"] == old
    print(f"{kills} kill(s)")
