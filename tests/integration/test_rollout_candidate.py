"""``rollout start IMAGE:TAG`` without a digest, against the session's real registry: the
candidate ``check`` chooses under the image's policy is resolved to a digest once, recorded
with the reason, and carried unchanged even when its tag moves during the rollout; with no
candidate nothing starts (exit 5) and the hint names the digest the tag has now."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools import skopeo
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.store import open_store
from testkit.rollout_setup import cli, env_doc

pytestmark = pytest.mark.integration


def _config(tmp: Path, reg: RegistryServer, ns: str, staging_test: str) -> Path:
    R = reg.host
    doc: dict[str, Any] = {
        "registries": {R: {"insecure": True}},
        "images": [{"match": f"{R}/{ns}/dev/web", "level": "minor"}],
        "environments": [
            {
                "name": "staging",
                "registry": {"repository": f"{R}/{ns}/staging/web"},
                "gates": {"tests": [{"name": "moves-the-tag", "run": staging_test}]},
            },
            {"name": "prod", "registry": {"repository": f"{R}/{ns}/prod/web"}},
        ],
    }
    path = tmp / "patchwarden.yaml"
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_start_without_digest_rolls_out_checks_candidate_unchanged(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns, R = f"c{uuid.uuid4().hex[:6]}", plain_registry.host
    digests = {
        tag: pusher.image(plain_registry, f"{ns}/dev/web", tag, salt=f"{ns}-{tag}")
        for tag in ("1.0.0", "1.0.1", "1.1.0", "2.0.0")
    }
    # while staging's gate runs, someone moves 1.1.0 to another image: the rollout must not care
    move = (
        f"skopeo copy --quiet --src-tls-verify=false --dest-tls-verify=false "
        f"docker://{R}/{ns}/dev/web:2.0.0 docker://{R}/{ns}/dev/web:1.1.0"
    )
    config = _config(tmp_path, plain_registry, ns, move)
    state = tmp_path / "state.db"

    code, doc, err = cli("start", f"{R}/{ns}/dev/web:1.0.0", config=config, state=state)
    assert code == 0, (err, doc.get("stopped"))
    chosen = doc["chosen"]
    assert chosen["digest"] == digests["1.1.0"] == doc["digest"]
    assert chosen["image"] == f"{R}/{ns}/dev/web:1.1.0" and chosen["update"] == "minor"
    assert "2.0.0" in chosen["reason"]  # why the newer major was passed over
    assert f"rollingout{R}/{ns}/dev/web:1.1.0@{digests['1.1.0']}" in "".join(err.split())
    assert skopeo.inspect_digest(f"{R}/{ns}/dev/web:1.1.0") == digests["2.0.0"]  # it moved
    assert skopeo.inspect_digest(f"{R}/{ns}/staging/web:1.1.0") == digests["1.1.0"]
    assert skopeo.inspect_digest(f"{R}/{ns}/prod/web:1.1.0") == digests["1.1.0"]
    assert env_doc(doc, "prod")["registry"]["source"].endswith(f"@{digests['1.1.0']}")
    start_step = doc["steps"][0]
    assert start_step["name"] == "start" and start_step["detail"]["chosen"] == chosen


def test_no_candidate_starts_nothing_and_says_why(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    ns, R = f"n{uuid.uuid4().hex[:6]}", plain_registry.host
    now = pusher.image(plain_registry, f"{ns}/dev/web", "1.2.0", salt=ns)
    config = _config(tmp_path, plain_registry, ns, "true")
    state = tmp_path / "state.db"

    code, doc, err = cli("start", f"{R}/{ns}/dev/web:1.2.0", config=config, state=state)
    flat = "".join(err.split())  # the terminal wraps long lines
    assert code == 5 and doc == {}
    assert f"nocandidatefor{R}/{ns}/dev/web:1.2.0:nonewertagthan1.2.0" in flat
    assert f"`patchwardenrolloutstart{R}/{ns}/dev/web:1.2.0@{now}`" in flat
    with open_store(str(state)) as store:
        assert store.rollouts.latest() is None

    code, doc, err = cli("start", f"{R}/{ns}/dev/web", config=config, state=state)
    assert code == 2 and "names neither a tag nor a digest" in err


def test_candidate_refused_by_the_trust_gate_exits_6(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    from patchwarden.devtools.cosign import Signer

    ns, R = f"s{uuid.uuid4().hex[:6]}", plain_registry.host
    for tag in ("1.0.0", "1.0.1"):
        pusher.image(plain_registry, f"{ns}/dev/web", tag, salt=f"{ns}-{tag}")  # unsigned
    config = _config(tmp_path, plain_registry, ns, "true")
    (tmp_path / "k.pub").write_bytes(Signer("ecdsa").public_pem())
    doc = json.loads(config.read_text())
    doc["trust"] = [{"match": f"{R}/{ns}/*", "keys": [str(tmp_path / "k.pub")]}]
    config.write_text(json.dumps(doc))
    state = tmp_path / "state.db"
    code, out, err = cli("start", f"{R}/{ns}/dev/web:1.0.0", config=config, state=state)
    assert code == 6 and out == {}
    assert "refused by the trust gate" in " ".join(err.split())
    with open_store(str(state)) as store:
        assert store.rollouts.latest() is None
