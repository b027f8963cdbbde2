"""Live updates of running containers: replace, gate, keep or roll back, record.

The procedure for one container (``update`` and ``rollback`` alike):

1. pull the target image by digest (credentials as the registry client finds them);
2. create the new container with the old one's configuration under a temporary name
   ``NAME-pw-new-SHORTID``, labelled ``patchwarden.update-of=<old id>`` and
   ``patchwarden.state=candidate``;
3. stop the old container and rename it ``NAME-pw-old-SHORTID``; rename the new one ``NAME``;
4. start the new one and run the health gate (:mod:`patchwarden.app.live_gate`);
5. healthy: remove the old container (its image stays); not healthy, or any step failed:
   stop and remove the new one, rename the old one back, start it and verify it runs.

A crash between the steps leaves containers whose names and labels say what happened;
:meth:`LiveUpdater.recover` finds them on the next run and completes or undoes the update.

Hooks (labels on the container, run with ``sh -c`` through the engine's exec API):
``patchwarden.pre-update`` runs in the old container just before it is stopped (failure or
timeout: the candidate is removed and the update ``skipped``); ``patchwarden.post-update`` runs
in the new container once the gate passed (failure: the gate failed, roll back).
``patchwarden.hook-timeout`` (seconds) overrides the updater's hook timeout.

Several containers can be updated at once (``concurrency``); a container waits for the ones
it depends on, and is skipped when one of them rolled back or failed. With ``keep_images``
set, a successful update removes the repository's unused images beyond the container's
``keep_images`` most recent earlier digests (the previous digest is always kept).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from patchwarden.app.live_gate import GateResult, Probes, run_gate
from patchwarden.app.live_model import (
    Candidate,
    CandidateFn,
    HookResult,
    LiveResult,
    RecordStore,
    _last_lines,
)
from patchwarden.app.live_select import (
    COMPOSE_PROJECT,
    LABEL_DEPENDS_ON,
    NEW_MARK,
    OLD_MARK,
    Selection,
    _label,
    dependencies,
    dependency_order,
    is_leftover,
    policy_candidates,
)
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.engine.client import ContainerInfo, EngineClient, EngineError
from patchwarden.engine.spec import create_config
from patchwarden.errors import PatchwardenError, ReferenceFormatError, UsageError

__all__ = [
    "LABEL_DEPENDS_ON",
    "LABEL_HOOK_TIMEOUT",
    "LABEL_POST_UPDATE",
    "LABEL_PRE_UPDATE",
    "LABEL_STATE",
    "LABEL_UPDATE_OF",
    "NEW_MARK",
    "OLD_MARK",
    "Candidate",
    "CandidateFn",
    "HookResult",
    "LiveResult",
    "LiveUpdater",
    "RecordStore",
    "Selection",
    "dependencies",
    "dependency_order",
    "is_leftover",
    "policy_candidates",
]

LABEL_ENABLE = "patchwarden.enable"
LABEL_UPDATE_OF = "patchwarden.update-of"
LABEL_STATE = "patchwarden.state"
LABEL_PRE_UPDATE = "patchwarden.pre-update"
LABEL_POST_UPDATE = "patchwarden.post-update"
LABEL_HOOK_TIMEOUT = "patchwarden.hook-timeout"


class LiveUpdater:
    def __init__(
        self,
        engine: EngineClient,
        store: RecordStore,
        *,
        probes: Probes | None = None,
        stop_timeout: int = 10,
        hook_timeout: float = 30.0,
        concurrency: int = 1,
        keep_images: int | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, not {concurrency}")
        if keep_images is not None and keep_images < 0:
            raise UsageError(f"--keep-images must be 0 or more, not {keep_images}")
        self.engine = engine
        self.store = store
        self.probes = probes or Probes()
        self.stop_timeout = stop_timeout
        self.hook_timeout = hook_timeout
        self.concurrency = concurrency
        self.keep_images = keep_images
        self.clock = clock
        self._store_lock = threading.Lock()  # store and policy calls: one thread at a time
        self._candidate_lock = threading.Lock()
        self._images_lock = threading.Lock()  # retention vs. digests being moved to
        self._inflight: dict[str, int] = {}

    # -- selection ----------------------------------------------------------------------
    def update(
        self, candidate_for: CandidateFn, selection: Selection, *, monitor_only: bool = False
    ) -> list[LiveResult]:
        results: list[LiveResult] = []
        containers = self.engine.list_containers(all=True)
        by_name = {c.name: c for c in containers}
        for missing in (n for n in selection.names if n not in by_name):
            results.append(_plain(missing, "", None, "failed", "no such container"))
        selected = [
            info
            for info in dependency_order(containers)
            if not (selection.names and info.name not in selection.names)
            and not (selection.project and _label(info, COMPOSE_PROJECT) != selection.project)
            and not is_leftover(info.name)
        ]
        # wait only for dependencies earlier in the order: a cycle is broken as the order is
        position = {info.name: i for i, info in enumerate(selected)}
        deps = dependencies(containers)
        waits = {
            info.name: sorted(
                d for d in deps[info.name] if position.get(d, len(selected)) < position[info.name]
            )
            for info in selected
        }
        finished: dict[str, LiveResult | None] = {}
        blocked: dict[str, str] = {}  # skipped for a dependency -> the root cause

        def work(info: ContainerInfo) -> LiveResult | None:
            if not monitor_only:
                for d in waits[info.name]:
                    dep = finished.get(d)
                    if d in blocked:
                        why = f"dependency {d} was not updated ({blocked[d]})"
                    elif dep is not None and dep.outcome in ("rolled-back", "failed"):
                        why = f"dependency {d} {dep.outcome}"
                    else:
                        continue
                    blocked[info.name] = blocked.get(d, f"{d} {getattr(dep, 'outcome', '')}")
                    return _plain(
                        info.name, info.image, info.digest, "skipped", f"{why}: not updated"
                    )
            return self._one(info, candidate_for, selection, monitor_only)

        if self.concurrency == 1 or len(selected) <= 1:
            for info in selected:
                finished[info.name] = work(info)
        else:
            self._run_parallel(selected, waits, work, finished)
        results += [r for r in (finished[i.name] for i in selected) if r is not None]
        return results

    def _run_parallel(
        self,
        selected: Sequence[ContainerInfo],
        waits: dict[str, list[str]],
        work: Callable[[ContainerInfo], LiveResult | None],
        finished: dict[str, LiveResult | None],
    ) -> None:
        """Up to ``concurrency`` containers at once; each after its dependencies finished."""
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        pending = list(selected)
        running: dict[Future[LiveResult | None], str] = {}
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="pw-engine") as pool:
            while pending or running:
                for info in list(pending):
                    if len(running) >= self.concurrency:
                        break
                    if all(d in finished for d in waits[info.name]):
                        pending.remove(info)
                        running[pool.submit(work, info)] = info.name
                if not running:  # cannot happen (waits only point backwards): be safe
                    info = pending.pop(0)
                    running[pool.submit(work, info)] = info.name
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    finished[running.pop(fut)] = fut.result()

    def _one(
        self,
        info: ContainerInfo,
        candidate_for: CandidateFn,
        selection: Selection,
        monitor_only: bool,
    ) -> LiveResult | None:
        enable = info.labels.get(LABEL_ENABLE, "").lower()
        if enable == "false":
            return _plain(info.name, info.image, info.digest, "skipped", f"{LABEL_ENABLE}=false")
        if selection.opt_in and enable != "true" and info.name not in selection.names:
            return None
        ref = info.image_ref()
        if ref is None:
            return _plain(
                info.name,
                info.image,
                info.digest,
                "skipped",
                "started from an image ID: there is no reference to update",
            )
        if ref.digest is not None:
            return _plain(
                info.name,
                info.image,
                info.digest,
                "skipped",
                "started from a digest: pinned, not touched",
            )
        if not info.running:
            return _plain(info.name, info.image, info.digest, "skipped", "not running")
        try:
            with self._candidate_lock:
                cand = candidate_for(info, ref)
        except PatchwardenError as exc:
            return _plain(info.name, info.image, info.digest, "failed", str(exc))
        if cand.image is None:
            return _plain(info.name, info.image, info.digest, cand.outcome, cand.reason)
        if monitor_only:
            return LiveResult(
                info.name,
                info.image,
                info.digest,
                _text(cand.image),
                cand.image.digest,
                "skipped",
                f"monitor only: would update; {cand.reason}",
            )
        return self.replace(info, cand.image, action="update", why=cand.reason)

    # -- the procedure ------------------------------------------------------------------
    def replace(
        self, info: ContainerInfo, target: ImageRef, *, action: str, why: str = ""
    ) -> LiveResult:
        """Move ``info`` to ``target`` (repository[:tag]@digest), gated; record the outcome."""
        digest = target.digest or ""
        with self._images_lock:
            self._inflight[digest] = self._inflight.get(digest, 0) + 1
        try:
            return self._replace(info, target, action=action, why=why)
        finally:
            with self._images_lock:
                self._inflight[digest] -= 1
                if not self._inflight[digest]:
                    del self._inflight[digest]

    def _replace(
        self, info: ContainerInfo, target: ImageRef, *, action: str, why: str
    ) -> LiveResult:
        started, t0 = self.clock(), time.monotonic()
        steps: list[str] = []
        hooks: list[HookResult] = []
        removed_images: list[str] = []
        name, short = info.name, info.short_id
        to_image = _text(target)

        def done(outcome: str, reason: str, gate: GateResult | None = None) -> LiveResult:
            gates: dict[str, Any] = {"steps": steps}
            if gate is not None:
                gates.update(ok=gate.ok, reason=gate.reason, checks=gate.checks)
            if hooks:
                gates["hooks"] = [h.as_dict() for h in hooks]
            if removed_images:
                gates["images_removed"] = removed_images
            result = LiveResult(
                name,
                info.image,
                info.digest,
                to_image,
                target.digest,
                outcome,
                f"{reason}; {why}" if why and outcome == "updated" else reason,
                gates,
                action,
            )
            self._record(result, started, time.monotonic() - t0)
            return result

        try:
            old_doc = self.engine.inspect(info.id)
            old_image = self.engine.inspect_image(info.image_id) if info.image_id else {}
            self.engine.pull(target)
            steps.append(f"pulled {target}")
            image = self._local_name(target)
            body = create_config(
                old_doc,
                image,
                old_image_config=old_image.get("Config") or {},
                labels={LABEL_UPDATE_OF: info.id, LABEL_STATE: "candidate"},
            )
            new_id = self.engine.create(body, f"{name}{NEW_MARK}{short}")
            steps.append(f"created {new_id[:12]}")
        except EngineError as exc:
            steps.append(f"failed: {exc.message}")
            return done("failed", f"old container untouched: {exc.message}")

        pre = info.labels.get(LABEL_PRE_UPDATE, "").strip()
        if pre:
            hook = self._hook("pre-update", info.id, pre, info.labels)
            hooks.append(hook)
            steps.append(f"pre-update hook {hook.summary}")
            if not hook.ok:
                try:
                    self.engine.remove(new_id, force=True)
                    steps.append("removed new")
                except EngineError as exc:
                    steps.append(f"could not remove new: {exc.message}")
                return done(
                    "skipped",
                    f"pre-update hook {hook.summary}; update skipped, the container is unchanged",
                )

        old_name = f"{name}{OLD_MARK}{short}"
        gate: GateResult | None = None
        try:
            self.engine.stop(info.id, timeout=self.stop_timeout)
            steps.append("stopped old")
            self.engine.rename(info.id, old_name)
            steps.append(f"renamed old to {old_name}")
            self.engine.rename(new_id, name)
            steps.append(f"renamed new to {name}")
            self.engine.start(new_id)
            steps.append("started new")
            gate = run_gate(self.engine, new_id, self.probes)
            steps.append(f"gate: {gate.reason}")
            if gate.ok:
                gate = self._post_hook(new_id, gate, hooks, steps)
        except EngineError as exc:
            steps.append(f"failed: {exc.message}")
            gate = GateResult(False, exc.message)
        if gate.ok:
            try:
                self.engine.remove(info.id)
                steps.append("removed old (its image is kept)")
            except EngineError as exc:
                steps.append(f"could not remove old: {exc.message}")
            if self.keep_images is not None and target.digest:
                removed_images += self._retain(name, target, info.digest, steps)
            return done("updated", gate.reason, gate)
        restored = self._undo(new_id, info.id, name, steps)
        if restored:
            return done("rolled-back", f"{gate.reason}; the old container runs again", gate)
        return done(
            "failed",
            f"{gate.reason}; and the old container could not be restored (see {old_name})",
            gate,
        )

    # -- hooks ------------------------------------------------------------------------------
    def _hook(self, phase: str, container: str, command: str, labels: dict[str, str]) -> HookResult:
        timeout = self.hook_timeout
        with contextlib.suppress(ValueError):
            timeout = float(labels.get(LABEL_HOOK_TIMEOUT, "") or timeout)
        t0 = time.monotonic()
        try:
            code, output = self.engine.exec_run(container, ["sh", "-c", command], timeout)
        except EngineError as exc:
            return HookResult(phase, command, None, "", timeout, 0.0, exc.message)
        return HookResult(
            phase, command, code, _last_lines(output), timeout, round(time.monotonic() - t0, 3)
        )

    def _post_hook(
        self, new_id: str, gate: GateResult, hooks: list[HookResult], steps: list[str]
    ) -> GateResult:
        """Run the new container's post-update hook; a failing hook fails the gate."""
        labels = self.engine.info(new_id).labels
        post = labels.get(LABEL_POST_UPDATE, "").strip()
        if not post:
            return gate
        hook = self._hook("post-update", new_id, post, labels)
        hooks.append(hook)
        steps.append(f"post-update hook {hook.summary}")
        checks = {**gate.checks, "post-update hook": hook.summary}
        if hook.ok:
            return GateResult(True, f"{gate.reason}; post-update hook ok", checks)
        return GateResult(False, f"post-update hook {hook.summary}", checks)

    # -- image retention ----------------------------------------------------------------
    def _retain(
        self, name: str, target: ImageRef, previous: str | None, steps: list[str]
    ) -> list[str]:
        """Remove the repository's images no container uses, beyond the ``keep_images`` most
        recent digests ``name`` ran before; never the current or the previous digest, nor a
        digest another update is moving to. Returns the removed images' digests."""
        assert self.keep_images is not None and target.digest
        removed: list[str] = []
        with self._images_lock:
            try:
                with self._store_lock:
                    records = self.store.history(name, limit=500)
                earlier: list[str] = []
                for d in [previous, *(r.from_digest for r in records if r.outcome == "updated")]:
                    if d and d != target.digest and d not in earlier:
                        earlier.append(d)
                keep = {target.digest, *earlier[: self.keep_images], *self._inflight}
                if previous:
                    keep.add(previous)
                used = {_image_id(c.image_id) for c in self.engine.list_containers(all=True)}
                images = self.engine.list_images()
            except EngineError as exc:
                steps.append(f"image retention skipped: {exc.message}")
                return removed
            for img in images:
                refs = [
                    str(r)
                    for r in [*(img.get("RepoTags") or []), *(img.get("RepoDigests") or [])]
                    if r and not str(r).startswith("<none>")
                ]
                if not refs or {_repository(r) for r in refs} != {target.name}:
                    continue  # not this repository's alone
                digests = {r.partition("@")[2] for r in refs if "@" in r}
                if not digests or digests & keep or _image_id(str(img.get("Id"))) in used:
                    continue
                shown = ", ".join(sorted(digests))
                try:
                    self.engine.remove_image(str(img.get("Id")))
                except EngineError as exc:
                    steps.append(f"could not remove image {shown}: {exc.message}")
                    continue
                steps.append(f"removed image {target.name}@{shown}")
                removed += sorted(digests)
        return removed

    def _local_name(self, target: ImageRef) -> str:
        """Tag the pulled image locally so the container is configured by repository:tag."""
        by_digest = f"{target.name}@{target.digest}"
        if target.tag is None:
            return by_digest
        self.engine.tag(by_digest, target.name, target.tag)
        return f"{target.name}:{target.tag}"

    def _undo(self, new_id: str | None, old_id: str, name: str, steps: list[str]) -> bool:
        """Remove the candidate, give the old container its name back, start it; running?"""
        if new_id is not None:
            try:
                self.engine.remove(new_id, force=True)
                steps.append("removed new")
            except EngineError as exc:
                steps.append(f"could not remove new: {exc.message}")
        try:
            if self.engine.info(old_id).name != name:
                self.engine.rename(old_id, name)
                steps.append(f"renamed old back to {name}")
            if not self.engine.info(old_id).running:
                self.engine.start(old_id)
                steps.append("started old")
            time.sleep(min(1.0, self.probes.grace))
            running = self.engine.info(old_id).running
        except EngineError as exc:
            steps.append(f"restore failed: {exc.message}")
            return False
        steps.append("old is running" if running else "old is NOT running")
        return running

    # -- rollback -----------------------------------------------------------------------
    def rollback(self, name: str, to_digest: str | None = None) -> LiveResult:
        info = self.engine.info(name)
        ref = info.image_ref()
        if ref is None:
            raise UsageError(f"container {name} runs an image ID: nothing to roll back to")
        target = ref.with_digest(to_digest) if to_digest is not None else self._previous(name, info)
        if target.digest == info.digest:
            return _plain(
                name,
                info.image,
                info.digest,
                "skipped",
                f"already on {target.digest}",
                action="rollback",
            )
        return self.replace(info, target, action="rollback", why="rollback")

    def _previous(self, name: str, info: ContainerInfo) -> ImageRef:
        with self._store_lock:
            records = self.store.history(name, limit=200)
        for rec in records:
            if rec.outcome == "updated" and rec.from_digest and rec.from_digest != info.digest:
                base = parse_reference(rec.from_image)
                return base.with_digest(rec.from_digest)
        raise UsageError(
            f"no earlier digest of {name} in the history",
            "pass --to DIGEST, or see `patchwarden engine history`",
        )

    # -- crash recovery -----------------------------------------------------------------
    def recover(self) -> list[LiveResult]:
        """Complete or undo updates a crashed run left half-done (found by names and labels)."""
        results: list[LiveResult] = []
        containers = self.engine.list_containers(all=True)
        by_id = {c.id: c for c in containers}
        names = {c.name for c in containers}
        for c in containers:
            if NEW_MARK in c.name and c.labels.get(LABEL_UPDATE_OF) not in by_id:
                continue  # orphan candidate handled below with its old one (or left alone)
        for old in containers:
            if OLD_MARK not in old.name:
                continue
            original = old.name.rpartition(OLD_MARK)[0]
            cands = [c for c in containers if c.labels.get(LABEL_UPDATE_OF) == old.id]
            results.append(self._recover_one(old, original, cands, original in names))
        for new in containers:  # crashed before the old one was renamed
            of = new.labels.get(LABEL_UPDATE_OF)
            old_c = by_id.get(of) if of else None
            if NEW_MARK in new.name and old_c is not None and OLD_MARK not in old_c.name:
                results.append(self._recover_one(old_c, old_c.name, [new], True))
        return results

    def _recover_one(
        self, old: ContainerInfo, original: str, cands: Sequence[ContainerInfo], taken: bool
    ) -> LiveResult:
        started, t0 = self.clock(), time.monotonic()
        steps: list[str] = [f"found leftover {old.name}"]
        cand = next((c for c in cands if c.name == original), None)
        outcome, reason, gate = "rolled-back", "", None
        if cand is not None and cand.running:
            gate = run_gate(self.engine, cand.id, self.probes)
            steps.append(f"gate: {gate.reason}")
        if cand is not None and gate is not None and gate.ok:
            self.engine.remove(old.id, force=True)
            steps.append(f"removed {old.name}")
            outcome, reason = "updated", f"completed an interrupted update: {gate.reason}"
            to = cand
        else:
            for c in cands:
                try:
                    self.engine.remove(c.id, force=True)
                    steps.append(f"removed candidate {c.name}")
                except EngineError as exc:
                    steps.append(f"could not remove {c.name}: {exc.message}")
            # a crash during "stop old" leaves the engine still stopping it: finish that stop
            # first, or the container dies right after we saw it running
            try:
                self.engine.stop(old.id, timeout=self.stop_timeout)
                steps.append(f"stopped {old.name}")
            except EngineError as exc:
                steps.append(f"could not stop {old.name}: {exc.message}")
            ok = self._undo(None, old.id, original, steps)
            why = gate.reason if gate is not None else "the new container never started"
            outcome = "rolled-back" if ok else "failed"
            reason = f"undid an interrupted update ({why})" + (
                "" if ok else "; the old container could not be restored"
            )
            to = cands[0] if cands else old
        result = LiveResult(
            original,
            old.image,
            old.digest,
            to.image,
            to.digest,
            outcome,
            reason,
            {"steps": steps, **({"checks": gate.checks} if gate else {})},
            "recover",
        )
        self._record(result, started, time.monotonic() - t0)
        return result

    # -- history ------------------------------------------------------------------------
    def _record(self, r: LiveResult, started: datetime, duration: float) -> None:
        from patchwarden.store.model import UpdateRecord

        rec = UpdateRecord(
            id=None,
            started_at=started,
            finished_at=self.clock(),
            container=r.container,
            from_image=r.from_image,
            from_digest=r.from_digest,
            to_image=r.to_image,
            to_digest=r.to_digest,
            outcome=r.outcome,
            reason=r.reason,
            gates=r.gates,
            duration_s=round(duration, 3),
            action=r.action,
        )
        with self._store_lock:
            self.store.record(rec)


def _image_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")


def _repository(reference: str) -> str:
    try:
        return parse_reference(reference).name
    except ReferenceFormatError:
        return reference.partition("@")[0].rpartition(":")[0] or reference


def _text(ref: ImageRef) -> str:
    return f"{ref.name}:{ref.tag}" if ref.tag else ref.name


def _plain(
    name: str, image: str, digest: str | None, outcome: str, reason: str, action: str = "update"
) -> LiveResult:
    return LiveResult(name, image, digest, image, digest, outcome, reason, {}, action)
