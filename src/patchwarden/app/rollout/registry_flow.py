"""A registry environment in a rollout: one wave, the promotion that moves the tag (see
:mod:`.registry_target`), then the gates (tests, soak, metrics: what pulls the tag is
someone else's deployment); undone by pointing the tag back.

The record says ``deploying`` before the promotion and ``rolling-back`` before the tag is put
back; after a crash the tag itself says which digest it names (a tag is written in one PUT, and
the promotion writes it last), and the promotion is idempotent, so ``resume`` just looks and
goes on.

The source of a promotion is the destination of the nearest earlier registry environment of
the rollout (``dev`` → ``staging`` → ``prod`` repositories, signatures travelling along), else
the rollout's image itself, always pinned by the rollout's digest.
"""

from __future__ import annotations

import contextlib
from typing import Any

from patchwarden.app.promote import PromotionRefused
from patchwarden.app.rollout.gates import Outcome
from patchwarden.app.rollout.model import EnvState, EnvStatus, GateName, WaveState, WaveStatus
from patchwarden.app.rollout.registry_target import Promotions
from patchwarden.app.rollout.turn import RolloutTurn
from patchwarden.app.serialize.registry import promote_dict
from patchwarden.config.rollout import Environment
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import PatchwardenError


def destination(run: RolloutTurn, env: Environment) -> ImageRef:
    assert env.registry is not None  # noqa: S101 - an invariant the caller establishes
    tag = env.registry.tag or parse_reference(run.state.image).tag
    if tag is None:
        raise PatchwardenError(
            f"environment {env.name}: no tag to promote to ({run.state.image} names none)",
            "set registry.tag for the environment, or start the rollout with IMAGE:TAG@DIGEST",
        )
    return parse_reference(env.registry.repository).with_tag(tag)


def _source(run: RolloutTurn, env: Environment) -> str:
    """The previous registry environment's destination, else the rollout's image (by digest)."""
    source = parse_reference(run.state.image).with_tag(None)
    for e, es in zip(run.envs, run.state.environments, strict=True):
        if e.name == env.name:
            break
        if es.registry is not None and es.status == EnvStatus.SUCCEEDED:
            source = parse_reference(es.registry["destination"]).with_tag(None)
    return str(source.with_digest(run.state.digest))


def registry_env(run: RolloutTurn, env: Environment, es: EnvState) -> bool:
    promotions: Promotions = run.promotions()
    t0 = run.clock()
    gate = GateName.DEPLOY
    try:
        if es.registry is None:
            if not _plan(run, env, es, promotions):
                return False
        elif es.registry["state"] != "new":
            reconcile(run, es, promotions)
        reg = es.registry
        assert reg is not None  # noqa: S101 - _plan wrote it
        wave = es.waves[0]
        if wave.status == WaveStatus.PASSED:
            return True
        wave.started_at = wave.started_at or run.clock().isoformat()
        wave.status = WaveStatus.DEPLOYING
        run.save()
        t0 = run.clock()
        if reg["state"] == "unknown":
            now = reg.get("now")
            raise PatchwardenError(f"{reg['destination']} was moved to {now} by someone else")
        if reg["state"] != "new":
            reg["state"] = "deploying"
            run.save()
            src, dst = parse_reference(reg["source"]), parse_reference(reg["destination"])
            assert env.registry is not None  # noqa: S101 - a registry environment
            gate = GateName.TRUST
            result = promotions.promote(src, dst, immutable=env.registry.immutable)
            gate = GateName.DEPLOY
            done = promote_dict(result)  # the JSON shape of `registry promote`
            reg.update(state="new", outcome=done["outcome"], copy=done["copy"])
            reg["verification"] = done["verification"]
            run.save()
        out = Outcome(
            True,
            f"{reg['destination']} is {run.state.digest} ({reg.get('outcome', 'promoted')})",
            {"source": reg["source"], "copy": reg.get("copy", {})},
        )
    except PromotionRefused as exc:
        if es.registry is not None:
            es.registry["state"] = "old"  # refused before anything was copied
        out = Outcome(False, exc.message, {"hint": exc.hint} if exc.hint else {})
    except PatchwardenError as exc:
        gate = GateName.DEPLOY
        if not es.waves:
            run.stop(es, None, GateName.DEPLOY, exc.message)
            return False
        out = Outcome(False, exc.message)
    if not run.gate(es, es.waves[0], gate, out, t0):
        return False
    return bool(run.gates_after(env, es, es.waves[0], lambda: None))


def _plan(run: RolloutTurn, env: Environment, es: EnvState, promotions: Promotions) -> bool:
    started = run.clock()
    es.started_at = es.started_at or started.isoformat()
    dst = destination(run, env)
    before = promotions.tag_digest(dst)
    es.registry = {
        "source": _source(run, env),
        "destination": str(dst),
        "before": before,
        "manifest_was_there": promotions.has_digest(dst, run.state.digest),
        "state": "new" if before == run.state.digest else "old",
    }
    if before == run.state.digest:
        es.registry["outcome"] = "unchanged"
    es.waves = [WaveState(index=0, kind="promote", containers=[str(dst)])]
    es.status = EnvStatus.DEPLOYING
    run.save()
    run.step("stage", "plan", "planned", started, env=env.name, detail=dict(es.registry))
    return True


def reconcile(run: RolloutTurn, es: EnvState, promotions: Promotions) -> None:
    """Record which digest the tag names now (after a crash, or before a rollback)."""
    reg = es.registry
    assert reg is not None  # noqa: S101 - an invariant the caller establishes
    now = promotions.tag_digest(parse_reference(reg["destination"]))
    if now == run.state.digest:
        state = "new"
    elif now == reg["before"]:
        state = "old"
    else:
        state = "unknown"
    if state != reg["state"] or reg.get("now") != now:
        reg.update(state=state, now=now)
        run.save()


def undo_registry(run: RolloutTurn, env: Environment, es: EnvState) -> bool:
    """Point the tag back at the digest it named before the rollout; True when it does."""
    reg = es.registry
    if reg is None or reg["before"] == run.state.digest:
        return True  # never planned, or the tag named the digest already: nothing was moved
    started = run.clock()
    promotions: Promotions = run.promotions()
    failed_here = es.status == EnvStatus.FAILED
    detail: dict[str, Any] = {"destination": reg["destination"], "to": reg["before"]}
    try:
        reconcile(run, es, promotions)
        if reg["state"] == "new" or reg["state"] == "rolling-back":
            reg["state"] = "rolling-back"
            es.status = EnvStatus.ROLLING_BACK
            run.save()
            dst = parse_reference(reg["destination"])
            if reg["before"] is not None:
                promotions.retag(dst, reg["before"])
            elif not reg["manifest_was_there"]:
                promotions.untag(dst, run.state.digest)
            else:
                raise PatchwardenError(
                    f"{dst} did not exist before the rollout and its image was already in the "
                    "repository: the distribution API cannot remove the tag alone",
                    f"delete the tag by hand if it must go (it names {run.state.digest})",
                )
            reconcile(run, es, promotions)
        elif reg["state"] == "unknown":
            detail["error"] = f"the tag was moved by someone else (to {reg.get('now')}): left alone"
    except PatchwardenError as exc:
        detail["error"] = exc.message
        with contextlib.suppress(PatchwardenError):
            reconcile(run, es, promotions)
    es.status = EnvStatus.FAILED if failed_here else EnvStatus.ROLLED_BACK
    run.save()
    back = bool(reg["state"] == "old")
    outcome = "rolled-back" if back else "incomplete"
    run.step("rollback", env.name, outcome, started, env=env.name, detail=detail)
    return back
