"""Putting environments back: finding out where each container stands after a crash, and
rolling back every container a rollout moved (newest environment first)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from patchwarden.app.rollout.model import ContainerState, EnvState, EnvStatus, Where
from patchwarden.app.rollout.turn import RolloutTurn
from patchwarden.app.serialize.live import live_result_dict
from patchwarden.config.rollout import Environment
from patchwarden.core.ref import parse_reference
from patchwarden.errors import PatchwardenError

IN_FLIGHT = (Where.DEPLOYING, Where.ROLLING_BACK, Where.UNKNOWN)


class Undo:
    def __init__(self, run: RolloutTurn) -> None:
        self.run = run

    def reconcile(self, env: Environment, es: EnvState) -> None:
        """After a crash: remove candidates prepared for moves that never began, let the
        live-update recovery complete or undo half-done replacements on the engine, then
        record which digest each container runs."""
        self.discard_prepared(env, es)
        unsure = [c for c in es.containers.values() if c.where in IN_FLIGHT]
        if not unsure:
            return
        run = self.run
        started = run.clock()
        target = run.target(env)
        recovered = target.recover()
        found = {}
        with run.lock:
            for c in unsure:
                c.digest = target.digest_of(c.name)
                c.where = c.locate(c.digest)
                c.prepared = False
                found[c.name] = str(c.where)
            run.save()
        detail = {"containers": found, "recovered": [live_result_dict(r) for r in recovered]}
        run.step("recover", env.name, "reconciled", started, env=env.name, detail=detail)

    def discard_prepared(self, env: Environment, es: EnvState) -> None:
        """Remove every candidate prepared for a container whose move has not begun (this
        run's, or a killed run's); the containers themselves are not touched."""
        waiting = [c for c in es.containers.values() if c.prepared and c.where == Where.OLD]
        if not waiting:
            return
        target = self.run.target(env)
        with ThreadPoolExecutor(len(waiting), "pw-discard") as pool:
            list(pool.map(lambda c: target.discard(c.name), waiting))
        with self.run.lock:
            for c in waiting:
                c.prepared = False
            self.run.save()

    def environments(self, names: list[str]) -> bool:
        """Roll back the named environments, the last one first; True when every container
        the rollout moved runs its old digest again."""
        run = self.run
        ok = True
        pairs = [
            (env, es)
            for env, es in zip(run.envs, run.state.environments, strict=True)
            if es.name in names
        ]
        for env, es in reversed(pairs):
            if env.kind == "gitops":
                from patchwarden.app.rollout.gitops_flow import undo_gitops

                ok = undo_gitops(run, env, es) and ok
            elif env.kind == "registry":
                from patchwarden.app.rollout.registry_flow import undo_registry

                ok = undo_registry(run, env, es) and ok
            elif es.containers:
                ok = self.environment(env, es) and ok
        return ok

    def environment(self, env: Environment, es: EnvState) -> bool:
        run = self.run
        self.reconcile(env, es)
        # a container that ran the digest before the rollout was not moved by it
        moved = [c for c in es.containers.values() if c.where != Where.OLD and not c.was_on_target]
        if not moved:
            if es.status != EnvStatus.FAILED:
                es.status = EnvStatus.ROLLED_BACK
                run.save()
            return True
        started = run.clock()
        failed_here = es.status == EnvStatus.FAILED
        es.status = EnvStatus.ROLLING_BACK
        run.save()
        target = run.target(env)
        width = env.waves.max_parallel or len(moved)
        with ThreadPoolExecutor(max(1, min(width, len(moved))), "pw-rollback") as pool:
            list(pool.map(lambda c: self.container(env, c), moved))
        back = all(c.where == Where.OLD or c.was_on_target for c in es.containers.values())
        es.status = EnvStatus.FAILED if failed_here else EnvStatus.ROLLED_BACK
        run.save()
        detail = {c.name: str(c.where) for c in moved}
        run.step(
            "rollback",
            env.name,
            "rolled-back" if back else "incomplete",
            started,
            env=env.name,
            detail={"containers": detail, "engine": target.engine.url},
        )
        return back

    def container(self, env: Environment, c: ContainerState) -> None:
        run = self.run
        target = run.target(env)
        with run.lock:
            c.where = Where.ROLLING_BACK
            run.save()
        old = parse_reference(c.from_image).with_digest(c.from_digest)
        res = None
        try:
            res = target.move(c.name, old, action="rollback", why=f"rollout {run.id} rolled back")
            reason = res.reason
        except PatchwardenError as exc:
            reason = f"rollback failed: {exc.message}"
        digest = target.digest_after(c.name, res)
        with run.lock:
            c.digest = digest
            c.where = c.locate(digest)
            c.reason = reason
            run.save()
