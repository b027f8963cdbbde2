"""The next wave's candidates are created while a wave is gated (``waves.prepare``), on the real
Podman engine: used by the next wave's moves; removed, never started, and the containers they
were for never touched, when the rollout stops (a soak that fails) or is resumed after SIGKILL.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from patchwarden.app.live.select import NEW_MARK
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.store import open_store
from testkit.podman import push_web_image
from testkit.rollout_setup import (
    Fleet,
    cli,
    cli_process,
    engine,
    engine_url,
    env_doc,
    environment,
    fleet,
    layouts,
    wait_http,
    where,
    write_config,
)

pytestmark = pytest.mark.integration
__all__ = ["engine", "engine_url", "fleet", "layouts"]  # fixtures used by name

# serves, passes the deploy gate, then dies during the soak
DIES_LATER = ["/bin/sh", "-c", "/bin/busybox httpd -f -p 8080 -h /www & sleep 6; exit 4"]


def _started(fleet: Fleet, names: list[str]) -> dict[str, tuple[str, str]]:
    """Container -> (id, StartedAt): unchanged when nothing stopped or replaced it."""
    out = {}
    for n in names:
        doc = fleet.engine.inspect(n)
        out[n] = (str(doc["Id"]), str(doc["State"]["StartedAt"]))
    return out


def _candidates(fleet: Fleet) -> dict[str, str]:
    """Prepared candidates of this test's containers: name -> engine state."""
    return {
        c.name: c.state
        for c in fleet.engine.list_containers(all=True)
        if c.name.startswith(fleet.prefix) and NEW_MARK in c.name
    }


def _still_prepared(state: Path, rollout_id: int) -> list[str]:
    """Containers the stored record still says have a prepared candidate."""
    with open_store(str(state)) as store:
        rec = store.rollouts.get(rollout_id)
    assert rec is not None
    return [
        name
        for env in rec.state["environments"]
        for name, c in env["containers"].items()
        if c.get("prepared")
    ]


def _prod_config(
    tmp_path: Path, registry: RegistryServer, engine_url: str, fleet: Fleet, *, soak: str
) -> Path:
    """One environment, ``prod``: a canary of 1, then waves of 2, each soaking ``soak``."""
    env = environment(
        "prod", engine_url, fleet.label("prod"), waves={"canary": 1, "max_parallel": 2}, soak=soak
    )
    return write_config(tmp_path / "patchwarden.yaml", registry.host, [env])


def _prepare_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in doc["steps"] if s["kind"] == "prepare"]


def test_the_next_wave_is_created_while_a_wave_soaks_and_its_moves_use_it(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    repo = f"web-prep-{fleet.prefix}"
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    prod = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "prod", 3)
    config = _prod_config(tmp_path, plain_registry, engine_url, fleet, soak="3s")
    state = tmp_path / "state.db"
    code, doc, err = cli("start", f"{plain_registry.host}/{repo}@{d2}", config=config, state=state)
    assert code == 0, err
    p = env_doc(doc, "prod")
    first, second = (w["containers"] for w in p["waves"])
    (step,) = _prepare_steps(doc)
    assert (step["wave"], step["outcome"]) == (1, "prepared")
    assert sorted(step["detail"]["prepared"]) == sorted(second)
    # prepared while wave 0 was gated: after its deploy gate began, before it finished
    assert p["waves"][0]["gates"][0]["started_at"] <= step["started_at"]
    assert step["started_at"] < p["waves"][0]["finished_at"] <= p["waves"][1]["started_at"]
    with open_store(str(state)) as store:
        for name in second:  # the move used the candidate: no create of its own
            (rec,) = store.history(name)
            steps = rec.gates["steps"]
            assert any(s.startswith("prepared ") and s.endswith(" earlier") for s in steps), steps
            assert not any(s.startswith("created ") for s in steps), steps
        (canary,) = store.history(first[0])
        assert any(s.startswith("created ") for s in canary.gates["steps"])
    assert {w for w, _ in where(doc, "prod").values()} == {"new"}
    assert set(fleet.digests(prod).values()) == {d2}
    assert not _still_prepared(state, doc["id"])
    assert not fleet.leftovers()


def test_a_failing_soak_removes_the_prepared_candidates_and_leaves_their_containers_alone(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    repo = f"web-prepfail-{fleet.prefix}"
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2", cmd=DIES_LATER)
    prod = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "prod", 3)
    config = _prod_config(tmp_path, plain_registry, engine_url, fleet, soak="12s")
    state = tmp_path / "state.db"
    before = _started(fleet, prod)
    code, doc, err = cli("start", f"{plain_registry.host}/{repo}@{d2}", config=config, state=state)
    assert code == 3, err
    assert (doc["stopped"]["wave"], doc["stopped"]["gate"]) == (0, "soak"), doc["stopped"]
    p = env_doc(doc, "prod")
    canary, second = (w["containers"] for w in p["waves"])
    (step,) = _prepare_steps(doc)
    assert sorted(step["detail"]["prepared"]) == sorted(second), "candidates had been created"
    assert not _candidates(fleet), "every prepared candidate was removed"
    assert not fleet.leftovers()
    after = _started(fleet, prod)
    for name in second:  # never stopped, restarted or replaced
        assert after[name] == before[name], name
    assert where(doc, "prod")[canary[0]] == ("old", d1)
    assert set(fleet.digests(prod).values()) == {d1}
    for name in prod:
        assert wait_http(fleet.ports[name]) == "v1"
    with open_store(str(state)) as store:
        assert all(not store.history(n) for n in second), "nothing was done to wave 1"
    assert not _still_prepared(state, doc["id"])


@pytest.mark.parametrize("then", ["resume", "abort"])
def test_sigkill_while_candidates_are_prepared_then_resume_or_abort(
    then: str,
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    """Killed during the soak with the next wave prepared: the candidates are left behind.
    ``resume`` removes them without stopping the containers they were for (no recovery of
    theirs), then moves that wave as usual; ``abort`` removes them and rolls the canary back,
    the containers they were for untouched."""
    repo = f"web-prepkill-{fleet.prefix}"
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    prod = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "prod", 3)
    config = _prod_config(tmp_path, plain_registry, engine_url, fleet, soak="8s")
    state = tmp_path / "state.db"
    before = _started(fleet, prod)
    proc = cli_process("start", f"{plain_registry.host}/{repo}@{d2}", config=config, state=state)
    try:
        deadline = time.monotonic() + 120
        while len(_candidates(fleet)) < 2:  # wave 1 (two containers) prepared, soak running
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no candidates were prepared"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        proc.kill()
        proc.communicate()
    assert set(_candidates(fleet).values()) == {"created"}, "left behind, never started"
    with open_store(str(state)) as store:
        rec = store.rollouts.latest()
        assert rec is not None
    recorded = rec.state["environments"][0]["containers"]
    prepared = sorted(n for n, c in recorded.items() if c["prepared"])
    assert len(prepared) == 2 and all(recorded[n]["where"] == "old" for n in prepared)
    assert all(_started(fleet, [n])[n] == before[n] for n in prepared)

    code, doc, err = cli(then, str(rec.id), config=config, state=state)
    assert code == 0, err
    assert not fleet.leftovers()
    assert not _still_prepared(state, rec.id)
    if then == "abort":
        assert doc["status"] == "aborted"
        assert set(fleet.digests(prod).values()) == {d1}
        after = _started(fleet, prepared)
        assert all(after[n] == before[n] for n in prepared), "never stopped nor replaced"
        with open_store(str(state)) as store:
            assert all(not store.history(n) for n in prepared)
        return
    assert doc["status"] == "succeeded"
    assert set(fleet.digests(prod).values()) == {d2}
    with open_store(str(state)) as store:
        for name in prepared:  # one update each: no recovery stopped and restarted them
            assert [(r.action, r.outcome) for r in store.history(name)] == [("update", "updated")]
