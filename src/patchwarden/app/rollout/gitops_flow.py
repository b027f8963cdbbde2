"""A GitOps environment in a rollout: one wave, the commit that pins the digest, then the
gates (tests, soak, metrics: the deployment itself is the GitOps controller's job); undone by a
commit that writes the references back as they were.

The record says ``deploying`` before the commit and ``rolling-back`` before the revert; after
a crash the branch's files say which digest they pin.
"""

from __future__ import annotations

from typing import Any

from patchwarden.app.rollout.gates import Outcome
from patchwarden.app.rollout.gitops_target import GitOpsEnv, Pinned
from patchwarden.app.rollout.model import EnvState, EnvStatus, GateName, WaveState, WaveStatus
from patchwarden.app.rollout.turn import RolloutTurn
from patchwarden.config.rollout import Environment
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import PatchwardenError


def _target(env: Environment) -> GitOpsEnv:
    assert env.gitops is not None  # noqa: S101 - an invariant the caller establishes
    return GitOpsEnv(env.gitops)


def gitops_env(run: RolloutTurn, env: Environment, es: EnvState) -> bool:
    g = _target(env)
    image = parse_reference(run.state.image)
    t0 = run.clock()
    try:
        if es.gitops is None:
            if not _plan(run, env, es, g, image):
                return False
        elif es.gitops["state"] != "new":
            reconcile(run, env, es)
        wave = es.waves[0]
        if wave.status == WaveStatus.PASSED:
            return True
        wave.started_at = wave.started_at or run.clock().isoformat()
        wave.status = WaveStatus.DEPLOYING
        run.save()
        t0 = run.clock()
        if es.gitops is not None and es.gitops["state"] != "new":
            es.gitops["state"] = "deploying"
            run.save()
            to = {
                (p["file"], p["index"]): Pinned(
                    p["file"], p["index"], image.tag or p["tag"], run.state.digest
                )
                for p in es.gitops["before"]
            }
            message = f"rollout {run.id}: {image.name}@{run.state.digest} to {env.name}"
            base = g.head()
            commit = g.write(image, to, message)
            es.gitops.update(state="new", commit=commit, base=base)
            run.save()
        assert es.gitops is not None  # noqa: S101 - an invariant the caller establishes
        out = Outcome(
            True,
            f"committed {str(es.gitops['commit'])[:12]} on {es.gitops['branch']}",
            {"commit": es.gitops["commit"]},
        )
    except PatchwardenError as exc:
        if not es.waves:
            run.stop(es, None, GateName.DEPLOY, exc.message)
            return False
        out = Outcome(False, exc.message)
    if not run.gate(es, es.waves[0], GateName.DEPLOY, out, t0):
        return False
    return bool(run.gates_after(env, es, es.waves[0], lambda: None))


def _plan(run: RolloutTurn, env: Environment, es: EnvState, g: GitOpsEnv, image: ImageRef) -> bool:
    started = run.clock()
    es.started_at = es.started_at or started.isoformat()
    before = g.pinned(image)
    assert env.gitops is not None  # noqa: S101 - an invariant the caller establishes
    if not before:
        files = ", ".join(env.gitops.files)
        run.stop(es, None, GateName.DEPLOY, f"no reference to {image.name} in {files}")
        return False
    es.gitops = {
        "repo": env.gitops.repo,
        "branch": g.branch(),
        "state": "old",
        "commit": None,
        "before": [p.as_dict() for p in before],
    }
    names = [f"{p.file}#{p.index}" for p in before]
    es.waves = [WaveState(index=0, kind="commit", containers=names)]
    es.status = EnvStatus.DEPLOYING
    run.save()
    run.step("stage", "plan", "planned", started, env=env.name, detail=dict(es.gitops))
    return True


def reconcile(run: RolloutTurn, env: Environment, es: EnvState) -> None:
    """Record which digest the branch's files pin now (after a crash, or before a rollback)."""
    assert es.gitops is not None  # noqa: S101 - an invariant the caller establishes
    g = _target(env)
    image = parse_reference(run.state.image)
    now = {(p.file, p.index): p for p in g.pinned(image)}
    before = {(p["file"], p["index"]): p for p in es.gitops["before"]}
    if now and all(p.digest == run.state.digest for p in now.values()):
        state = "new"
    elif all(
        (p.tag, p.digest) == (before[k]["tag"], before[k]["digest"])
        for k, p in now.items()
        if k in before
    ):
        state = "old"
    else:
        state = "unknown"
    if state != es.gitops["state"]:
        es.gitops["state"] = state
        if state == "new":
            es.gitops["commit"] = g.head()
        run.save()


def undo_gitops(run: RolloutTurn, env: Environment, es: EnvState) -> bool:
    """Write the references back as they were before the rollout; True when they are."""
    if es.gitops is None:
        return True
    started = run.clock()
    reconcile(run, env, es)
    failed_here = es.status == EnvStatus.FAILED
    detail: dict[str, Any] = {}
    if es.gitops["state"] != "old":
        es.gitops["state"] = "rolling-back"
        es.status = EnvStatus.ROLLING_BACK
        run.save()
        image = parse_reference(run.state.image)
        to = {
            (p["file"], p["index"]): Pinned(p["file"], p["index"], p["tag"], p["digest"])
            for p in es.gitops["before"]
        }
        message = f"rollout {run.id}: {image.name} rolled back"
        g = _target(env)
        try:
            commit = None
            if es.gitops.get("base") and es.gitops.get("commit"):
                commit = g.restore(es.gitops["base"], es.gitops["commit"], message)
            if commit is None:  # changed since: rewrite the references only
                commit = g.write(image, to, message)
            es.gitops.update(state="old", rollback_commit=commit)
            detail["commit"] = commit
        except PatchwardenError as exc:
            detail["error"] = exc.message
            reconcile(run, env, es)
    es.status = EnvStatus.FAILED if failed_here else EnvStatus.ROLLED_BACK
    run.save()
    back = bool(es.gitops["state"] == "old")
    run.step(
        "rollback",
        env.name,
        "rolled-back" if back else "incomplete",
        started,
        env=env.name,
        detail=detail,
    )
    return back
