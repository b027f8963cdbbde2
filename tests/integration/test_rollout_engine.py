"""Staged rollouts on the real Podman engine: two environments (separate label sets), tiny
busybox httpd images pushed to the session's loopback registry with skopeo."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.store import open_store
from testkit.podman import push_web_image
from testkit.rollout_setup import (
    SMOKE,
    Fleet,
    cli,
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

SMOKE_TEST = "/bin/busybox wget -q -O- http://127.0.0.1:{port}/smoke"
# works in staging, crashes at start in prod (the prod containers run with MODE=prod)
CRASHES_IN_PROD = [
    "/bin/sh",
    "-c",
    'test "$MODE" != prod || exit 3; exec /bin/busybox httpd -f -p 8080 -h /www',
]


def _images(layouts: Path, reg: RegistryServer, repo: str) -> dict[str, str]:
    return {
        "v1": push_web_image(
            layouts, reg.host, repo, "1.0.0", version="v1", extra={"www/smoke": SMOKE}
        ),
        "v2": push_web_image(
            layouts, reg.host, repo, "1.0.1", version="v2", extra={"www/smoke": SMOKE}
        ),
    }


def test_good_digest_goes_staging_then_prod_in_waves_after_approval(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    repo = f"web-good-{fleet.prefix}"
    d = _images(layouts, plain_registry, repo)
    staging = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "staging", 1)
    prod = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "prod", 4)
    smoke = SMOKE_TEST.format(port=fleet.ports[staging[0]])
    config = write_config(
        tmp_path / "patchwarden.yaml",
        plain_registry.host,
        [
            environment(
                "staging",
                engine_url,
                fleet.label("staging"),
                tests=[{"name": "smoke", "run": smoke}],
            ),
            environment(
                "prod",
                engine_url,
                fleet.label("prod"),
                waves={"canary": 1, "max_parallel": 2},
                extra={"approval": "manual"},
            ),
        ],
    )
    state = tmp_path / "state.db"
    target = f"{plain_registry.host}/{repo}@{d['v2']}"

    code, doc, err = cli("start", target, config=config, state=state)
    assert code == 7, err  # waits for the approval of prod
    assert doc["status"] == "waiting-approval"
    assert where(doc, "staging") == {staging[0]: ("new", d["v2"])}
    assert wait_http(fleet.ports[staging[0]]) == "v2"
    assert set(fleet.digests(prod).values()) == {d["v1"]}, "prod is untouched before approval"
    assert env_doc(doc, "prod")["status"] == "waiting-approval"
    (sw,) = env_doc(doc, "staging")["waves"]
    assert [g["gate"] for g in sw["gates"]] == ["deploy", "tests", "soak"]
    assert all(g["ok"] for g in sw["gates"])
    assert sw["gates"][1]["detail"]["runs"][0]["output"] == SMOKE.decode()
    assert sw["gates"][2]["duration_s"] >= 1.0

    code, doc, err = cli("approve", str(doc["id"]), "--by", "alice", config=config, state=state)
    assert code == 0, err
    assert doc["status"] == "succeeded" and doc["stopped"] is None
    p = env_doc(doc, "prod")
    assert p["approval"]["by"] == "alice"
    assert [(w["kind"], len(w["containers"]), w["status"]) for w in p["waves"]] == [
        ("canary", 1, "passed"),
        ("batch", 2, "passed"),
        ("batch", 1, "passed"),
    ]
    assert {n: w for n, (w, _) in where(doc, "prod").items()} == dict.fromkeys(prod, "new")
    assert set(fleet.digests(prod).values()) == {d["v2"]}
    for name in prod:
        assert wait_http(fleet.ports[name]) == "v2"
    # waves in order: a wave starts after the previous one's gates finished
    ends = [w["finished_at"] for w in p["waves"]]
    starts = [w["started_at"] for w in p["waves"]]
    assert all(starts[i + 1] >= ends[i] for i in range(len(ends) - 1))
    kinds = [(s["kind"], s["name"], s["outcome"]) for s in doc["steps"]]
    assert ("approval", "manual", "approved") in kinds
    assert all(s["duration_s"] is not None for s in doc["steps"])
    assert not fleet.leftovers()

    code, status, _ = cli("status", str(doc["id"]), config=config, state=state)
    assert code == 0 and status["environments"] == doc["environments"]

    # the same digest again: nothing to move, and nothing to undo for that rollout
    code, again, err = cli("start", target, config=config, state=state)
    assert code == 7, err
    code, again, err = cli("approve", str(again["id"]), "--by", "bob", config=config, state=state)
    assert code == 0, err
    reasons = {c["reason"] for e in again["environments"] for c in e["containers"]}
    assert reasons == {"already on the digest"}
    code, undone, err = cli("rollback", str(again["id"]), config=config, state=state)
    assert code == 0 and undone["status"] == "rolled-back", err
    assert set(fleet.digests(staging + prod).values()) == {d["v2"]}, "it had moved nothing"

    # and back: every container on its old digest, recorded
    code, back, err = cli("rollback", str(doc["id"]), config=config, state=state)
    assert code == 0, err
    assert back["status"] == "rolled-back"
    assert set(fleet.digests(staging + prod).values()) == {d["v1"]}
    assert {w for w, _ in where(back, "prod").values()} == {"old"}
    with open_store(str(state)) as store:
        actions = [r.action for r in store.history(prod[0])]
    assert actions == ["rollback", "update"]


def test_image_failing_a_staging_test_never_reaches_prod(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    repo = f"web-smokefail-{fleet.prefix}"
    d1 = push_web_image(
        layouts, plain_registry.host, repo, "1.0.0", version="v1", extra={"www/smoke": SMOKE}
    )
    bad = push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")  # no /smoke
    staging = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "staging", 1)
    prod = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "prod", 2)
    smoke = SMOKE_TEST.format(port=fleet.ports[staging[0]])
    config = write_config(
        tmp_path / "patchwarden.yaml",
        plain_registry.host,
        [
            environment(
                "staging",
                engine_url,
                fleet.label("staging"),
                tests=[{"name": "smoke", "run": smoke}],
            ),
            environment("prod", engine_url, fleet.label("prod"), waves={"canary": 1}),
        ],
    )
    state = tmp_path / "state.db"
    code, doc, err = cli(
        "start", f"{plain_registry.host}/{repo}:1.0.1@{bad}", config=config, state=state
    )
    assert code == 3, err
    assert doc["status"] == "failed"
    assert doc["stopped"]["environment"] == "staging"
    assert doc["stopped"]["wave"] == 0 and doc["stopped"]["gate"] == "tests"
    assert doc["stopped"]["reason"].startswith("smoke exited 1")
    assert "stopped in staging, wave 0 by the tests gate" in " ".join(err.split())
    assert where(doc, "staging") == {staging[0]: ("old", d1)}
    assert wait_http(fleet.ports[staging[0]]) == "v1"
    assert env_doc(doc, "prod") == {
        **env_doc(doc, "prod"),
        "status": "pending",
        "waves": [],
        "containers": [],
    }
    assert set(fleet.digests(prod).values()) == {d1}
    with open_store(str(state)) as store:
        assert all(not store.history(n) for n in prod), "nothing was done to prod"
    assert not fleet.leftovers()


def test_prod_canary_failure_rolls_back_the_canary_and_stops(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    repo = f"web-canaryfail-{fleet.prefix}"
    d1 = push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1")
    d2 = push_web_image(
        layouts, plain_registry.host, repo, "1.0.1", version="v2", cmd=CRASHES_IN_PROD
    )
    staging = fleet.run(
        f"{plain_registry.host}/{repo}:1.0.0", "staging", 1, extra_env=["MODE=staging"]
    )
    prod = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "prod", 3, extra_env=["MODE=prod"])
    config = write_config(
        tmp_path / "patchwarden.yaml",
        plain_registry.host,
        [
            environment("staging", engine_url, fleet.label("staging")),
            environment("prod", engine_url, fleet.label("prod"), waves={"canary": 1}),
        ],
    )
    state = tmp_path / "state.db"
    code, doc, err = cli(
        "start", f"{plain_registry.host}/{repo}:1.0.1@{d2}", config=config, state=state
    )
    assert code == 3, err
    assert doc["stopped"]["environment"] == "prod"
    assert (doc["stopped"]["wave"], doc["stopped"]["gate"]) == (0, "deploy")
    assert "not running" in doc["stopped"]["reason"]
    assert where(doc, "staging") == {staging[0]: ("new", d2)}, "staging passed and keeps it"
    p = env_doc(doc, "prod")
    assert [(w["kind"], w["status"]) for w in p["waves"]] == [
        ("canary", "failed"),
        ("batch", "pending"),
    ]
    canary = p["waves"][0]["containers"][0]
    assert where(doc, "prod")[canary] == ("old", d1)
    assert set(fleet.digests(prod).values()) == {d1}
    for name in prod:
        assert wait_http(fleet.ports[name]) == "v1"
    with open_store(str(state)) as store:
        (rec,) = store.history(canary)
        assert rec.outcome == "rolled-back"
        assert all(not store.history(n) for n in prod if n != canary), "only the canary moved"
    assert not fleet.leftovers()


def test_a_container_another_run_holds_is_not_moved_and_stops_the_wave(
    engine_url: str,
    plain_registry: RegistryServer,
    layouts: Path,
    fleet: Fleet,
    tmp_path: Path,
) -> None:
    """The rollout takes the same per-container lock as `engine update` (the state store's):
    while another run holds it, the container is left alone, the wave fails naming that run,
    and nothing else of the environment moves."""
    from patchwarden.engine.client import connect
    from patchwarden.store.locks import run_owner

    repo = f"web-locked-{fleet.prefix}"
    d = _images(layouts, plain_registry, repo)
    staging = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "staging", 2)
    config = write_config(
        tmp_path / "patchwarden.yaml",
        plain_registry.host,
        [environment("staging", engine_url, fleet.label("staging"), waves={"canary": 1})],
    )
    state = tmp_path / "state.db"
    target = f"{plain_registry.host}/{repo}@{d['v2']}"
    identity = connect(engine_url).identity
    with open_store(str(state)) as other:  # another run, with its own handle on the store
        locks = other.container_locks(identity, run_owner("engine update"))
        assert locks is not None
        with contextlib.ExitStack() as held:
            for name in staging:
                assert held.enter_context(locks.hold(name)) is None
            code, doc, err = cli("start", target, config=config, state=state)
    assert code == 3, err
    assert doc["stopped"]["environment"] == "staging"
    assert (doc["stopped"]["wave"], doc["stopped"]["gate"]) == (0, "deploy")
    assert "another patchwarden run is acting on it" in doc["stopped"]["reason"]
    assert "(engine update)" in doc["stopped"]["reason"]
    assert set(fleet.digests(staging).values()) == {d["v1"]}, "no container moved"
    for name in staging:
        assert wait_http(fleet.ports[name]) == "v1"
    assert not fleet.leftovers()
