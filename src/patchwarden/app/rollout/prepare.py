"""The next wave's candidates, created while the current wave is gated (``waves.prepare``).

When a wave has passed its deploy gate, the containers that are to replace the next wave's
are created in the background (pulled image, the old container's configuration, named
``NAME-pw-new-SHORTID``, never started) while the tests and the soak run; the next wave's
moves then only stop, rename and start. Each such container's lock is taken when its
candidate is created and held until its move, so no other run acts on it meanwhile.

The record says ``prepared`` before any candidate exists; when the rollout stops, is aborted
or resumes after a kill, every candidate of a container whose move has not begun is removed
(:meth:`patchwarden.app.rollout.undo.Undo.discard_prepared`); the containers themselves are
never touched by that.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from patchwarden.app.rollout.engine_target import EngineTarget, target_ref
from patchwarden.app.rollout.model import ContainerState, EnvState, WaveState, Where
from patchwarden.app.rollout.turn import RolloutTurn
from patchwarden.config.rollout import Environment


class Preparer:
    def __init__(self, run: RolloutTurn) -> None:
        self.run = run
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def start(self, env: Environment, es: EnvState, wave: WaveState, target: EngineTarget) -> None:
        """Begin preparing the wave after ``wave`` (nothing when there is none, or
        ``waves.prepare`` is off)."""
        nxt = next((w for w in es.waves if w.index == wave.index + 1), None)
        if not env.waves.prepare or nxt is None:
            return
        todo = [es.containers[n] for n in nxt.containers if es.containers[n].where == Where.OLD]
        if not todo:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="pw-prepare")
        self._pending = self._pool.submit(self._prepare, es, nxt, todo, target)

    def _prepare(
        self, es: EnvState, wave: WaveState, todo: list[ContainerState], target: EngineTarget
    ) -> None:
        run = self.run
        started = run.clock()
        with run.lock:  # written before any candidate exists (a killed run's are removed)
            for c in todo:
                c.prepared = True
            run.save()

        def one(c: ContainerState) -> bool:
            return target.prepare(c.name, target_ref(c.to_image, c.to_digest))

        with ThreadPoolExecutor(len(todo), thread_name_prefix="pw-prepare") as pool:
            done = list(pool.map(one, todo))
        with run.lock:
            for c, ok in zip(todo, done, strict=True):
                c.prepared = ok
            run.save()
        ready = [c.name for c, ok in zip(todo, done, strict=True) if ok]
        detail = {"prepared": ready, "not_prepared": [c.name for c in todo if c.name not in ready]}
        outcome = "prepared" if len(ready) == len(todo) else "partly"
        run.step(
            "prepare", wave.kind, outcome, started, env=es.name, wave=wave.index, detail=detail
        )

    def wait(self, *, errors: bool = True) -> None:
        """Until the preparation in progress (if any) is over; its error, if it failed (not
        with ``errors=False``: when the rollout stops anyway, what was prepared is removed)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if errors:
            pending.result()
        else:
            pending.exception()

    def close(self) -> None:
        try:
            self.wait(errors=False)
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
