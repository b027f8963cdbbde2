"""Crash safety: the CLI is SIGKILLed at random moments of a rollout (and of its rollback),
then `rollout resume` runs, repeatedly. After every kill each container the record calls
``old`` or ``new`` runs that digest; in the end every container runs the old or the new digest,
nothing is left half-replaced, and the record says which.

The kill moments come from a seeded generator: the seed is printed, and
PATCHWARDEN_CRASH_SEED=N replays a run.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.store import open_store
from testkit.podman import push_web_image
from testkit.rollout_setup import (
    Fleet,
    cli_process,
    engine,
    engine_url,
    environment,
    fleet,
    layouts,
    write_config,
)

pytestmark = pytest.mark.integration
__all__ = ["engine", "engine_url", "fleet", "layouts"]  # fixtures used by name

KILLS_FORWARD = 4
KILLS_BACK = 2


def _record(state: Path) -> dict[str, Any] | None:
    with open_store(str(state)) as store:
        rec = store.rollouts.latest()
    return None if rec is None else {"id": rec.id, "status": rec.status, **rec.state}


def _check_recorded(fleet: Fleet, state: Path, digests: dict[str, str]) -> None:
    """A container the record calls old/new runs that digest (in-flight ones may be either)."""
    rec = _record(state)
    if rec is None:
        return
    for env in rec["environments"]:
        for name, c in env["containers"].items():
            if c["where"] in ("old", "new"):
                assert fleet.engine.info(name).digest == digests[c["where"]], (name, c)


def _kill_and_resume(
    first: list[str],
    before: str | None,
    rng: random.Random,
    kills: int,
    fleet: Fleet,
    config: Path,
    state: Path,
    digests: dict[str, str],
) -> tuple[int, dict[str, Any], int]:
    """Run ``first``, kill it at a random moment, resume, ... ``kills`` times at most; then
    let the last resume finish. ``before``: the record's status before ``first`` (``first``
    runs again when a kill came before it changed anything). Returns (exit code, JSON, kills)."""
    proc = cli_process(*first, config=config, state=state)
    done = 0
    for _ in range(kills):
        try:
            proc.wait(rng.uniform(1.0, 12.0))
            break  # finished before the kill
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            done += 1
        _check_recorded(fleet, state, digests)
        rec = _record(state)
        # killed before it wrote anything: start again, else resume the record
        args = first if rec is None or rec["status"] == before else ["resume", str(rec["id"])]
        proc = cli_process(*args, config=config, state=state)
    out, err = proc.communicate(timeout=600)
    return proc.returncode, json.loads(out) if out.strip() else {"stderr": err}, done


def test_sigkill_at_random_points_then_resume(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("PATCHWARDEN_CRASH_SEED") or random.randrange(1 << 30))
    print(f"PATCHWARDEN_CRASH_SEED={seed}")
    rng = random.Random(seed)
    repo = f"web-crash-{fleet.prefix}"
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    digests = {"old": d1, "new": d2}
    names = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "staging", 1)
    names += fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "prod", 3)
    config = write_config(
        tmp_path / "patchwarden.yaml",
        plain_registry.host,
        [
            environment("staging", engine_url, fleet.label("staging"), soak="1s"),
            environment(
                "prod",
                engine_url,
                fleet.label("prod"),
                waves={"canary": 1, "max_parallel": 2},
                soak="1s",
            ),
        ],
    )
    state = tmp_path / "state.db"

    start = ["start", f"{plain_registry.host}/{repo}@{d2}"]
    code, doc, kills = _kill_and_resume(
        start, None, rng, KILLS_FORWARD, fleet, config, state, digests
    )
    assert code == 0, (seed, doc)
    assert doc["status"] == "succeeded"
    _assert_settled(fleet, doc, names, d2, "new", seed)
    print(f"forward: {kills} kill(s), {_recoveries(doc)}")

    back = ["rollback", str(doc["id"])]
    code, doc, kills = _kill_and_resume(
        back, "succeeded", rng, KILLS_BACK, fleet, config, state, digests
    )
    assert code == 0, (seed, doc)
    assert doc["status"] == "rolled-back"
    _assert_settled(fleet, doc, names, d1, "old", seed)
    print(f"rollback: {kills} kill(s), {_recoveries(doc)}")


def _assert_settled(
    fleet: Fleet, doc: dict[str, Any], names: list[str], digest: str, where: str, seed: int
) -> None:
    assert not fleet.leftovers(), (seed, fleet.leftovers())
    recorded = {c["name"]: c for env in doc["environments"] for c in env["containers"]}
    assert sorted(recorded) == sorted(names)
    for name in names:
        info = fleet.engine.info(name)
        assert info.running, (seed, name)
        assert info.digest == digest, (seed, name, info.digest)
        assert (recorded[name]["where"], recorded[name]["digest"]) == (where, digest), seed


def _recoveries(doc: dict[str, Any]) -> str:
    found = [s["detail"]["containers"] for s in doc["steps"] if s["kind"] == "recover"]
    return f"containers found in flight after a kill: {found}"
