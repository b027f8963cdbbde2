"""An engine environment: its containers, and moving one of them to a digest and back.

Each move is the live-update procedure (:meth:`patchwarden.app.live.LiveUpdater.replace`):
pull by digest, recreate with the same configuration, health gate, keep or restore the old
container; recorded in the update history as well.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from patchwarden.app.live.gate import GateResult, Probes, run_gate
from patchwarden.app.live.model import (
    ContainerLocks,
    LiveResult,
    LocalLocks,
    RecordStore,
    busy_reason,
    untouched,
)
from patchwarden.app.live.replace import candidate_name
from patchwarden.app.live.select import COMPOSE_PROJECT, dependency_order, is_leftover
from patchwarden.app.live.updater import LiveUpdater
from patchwarden.config.rollout import Environment, port_placeholders
from patchwarden.core.live import LiveAction, LiveOutcome
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.core.timing import span
from patchwarden.engine.client import EngineClient
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo
from patchwarden.errors import PatchwardenError, UsageError
from patchwarden.net.http import make_client


@dataclass(frozen=True, slots=True)
class _Prepared:
    candidate: str  # the candidate container's id
    lock: contextlib.ExitStack  # the container's lock, held until the move


@dataclass(frozen=True, slots=True)
class Selected:
    containers: list[ContainerInfo]
    ignored: list[str]  # "name: why", for the record


def _label_matches(info: ContainerInfo, want: str) -> bool:
    key, eq, value = want.partition("=")
    if not eq:
        return key in info.labels
    return info.labels.get(key) == value


class EngineTarget:
    def __init__(
        self,
        engine: EngineClient,
        env: Environment,
        history: RecordStore,
        locks: ContainerLocks | None = None,
    ) -> None:
        assert env.containers is not None  # noqa: S101 - an invariant the caller establishes
        self.engine = engine
        # the store's per-container locks, shared with engine update/rollback and serve
        self.locks: ContainerLocks = locks or LocalLocks()
        self.env = env
        self.selector = env.containers
        self.history = history
        self._http = make_client(connect_timeout=3.0, read_timeout=3.0, max_connections=8)
        self._pulled: set[str] = set()  # digests pulled by this process (once, not per move)
        self._pull_lock = threading.Lock()
        self._soak_pool: ThreadPoolExecutor | None = None
        self._prepared: dict[str, _Prepared] = {}  # container -> its candidate, lock held
        self._prepared_lock = threading.Lock()

    # -- which containers ---------------------------------------------------------------
    def select(self, image: ImageRef) -> Selected:
        """The environment's containers that run ``image``'s repository, dependencies first."""
        chosen: list[ContainerInfo] = []
        ignored: list[str] = []
        for info in dependency_order(self.engine.list_containers(all=True)):
            if is_leftover(info.name) or not self._matches(info):
                continue
            ref = info.image_ref()
            if ref is None or ref.name != image.name:
                ignored.append(f"{info.name}: runs {info.image}, not {image.name}")
            elif not info.running:
                ignored.append(f"{info.name}: not running ({info.state})")
            elif not info.digest:
                ignored.append(f"{info.name}: its digest is unknown, it could not be rolled back")
            else:
                chosen.append(info)
        return Selected(chosen, ignored)

    def _matches(self, info: ContainerInfo) -> bool:
        sel = self.selector
        if sel.names and info.name not in sel.names:
            return False
        if sel.project and not any(info.labels.get(k) == sel.project for k in COMPOSE_PROJECT):
            return False
        return all(_label_matches(info, want) for want in sel.labels)

    def describe(self) -> str:
        sel = self.selector
        parts = [f"label {x}" for x in sel.labels]
        parts += [f"compose project {sel.project}"] if sel.project else []
        parts += [f"names {', '.join(sel.names)}"] if sel.names else []
        return " and ".join(parts)

    # -- moves --------------------------------------------------------------------------
    def move(self, name: str, target: ImageRef, *, action: str, why: str) -> LiveResult:
        """Replace container ``name`` by one on ``target`` (gated; restored when it fails).
        A container another run is acting on (its lock is held) is not touched: the move
        fails, naming that run, and the wave stops as for any failure. A candidate
        :meth:`prepare` created for it is used (and its lock, held since, released after)."""
        live = LiveAction(action)
        self._pull_once(target)
        with self._prepared_lock:
            prepared = self._prepared.pop(name, None)
        with self._hold(name, prepared) as holder:
            try:
                info = self.engine.info(name)
            except EngineError:
                if prepared is not None:  # never left behind
                    with contextlib.suppress(EngineError):
                        self.engine.remove(prepared.candidate, force=True)
                raise
            if holder is not None:
                return untouched(
                    name,
                    info.image,
                    info.digest,
                    LiveOutcome.FAILED,
                    busy_reason(holder),
                    action=live,
                )
            return self._updater().replace(
                info,
                target,
                action=live,
                why=why,
                pulled=True,
                prepared=prepared.candidate if prepared else None,
            )

    @contextlib.contextmanager
    def _hold(self, name: str, prepared: _Prepared | None) -> Iterator[str | None]:
        if prepared is None:
            with self.locks.hold(name) as holder:
                yield holder
        else:
            with prepared.lock:  # held since the candidate was prepared
                yield None

    def prepare(self, name: str, target: ImageRef) -> bool:
        """Create (not start) the candidate that is to replace container ``name`` at its
        move, taking the container's lock until then (so no other run touches it meanwhile).
        False when nothing was prepared (the lock is held elsewhere, or the engine refused:
        the move then does the work itself)."""
        stack = contextlib.ExitStack()
        try:
            if stack.enter_context(self.locks.hold(name)) is not None:
                stack.close()
                return False
            self._pull_once(target)
            info = self.engine.info(name)
            candidate = self._updater().create_candidate(info, target)
        except PatchwardenError:
            stack.close()
            self.discard(name)  # a create that failed half-way may have left one
            return False
        except BaseException:
            stack.close()
            raise
        with self._prepared_lock:
            self._prepared[name] = _Prepared(candidate, stack)
        return True

    def discard(self, name: str) -> None:
        """Remove the candidate prepared for container ``name`` (found by its name when a
        killed run prepared it) and release the lock taken for it. Never touches ``name``
        itself; only for a container whose move has not begun."""
        with self._prepared_lock:
            prepared = self._prepared.pop(name, None)
        if prepared is not None:
            with prepared.lock, contextlib.suppress(EngineError):
                self.engine.remove(prepared.candidate, force=True)
            return
        with self.locks.hold(name) as holder:
            if holder is not None:  # another run acts on it: its candidate, if any, is its own
                return
            with contextlib.suppress(EngineError):
                self.engine.remove(candidate_name(self.engine.info(name)), force=True)

    def _pull_once(self, target: ImageRef) -> None:
        """Pull ``target`` by digest the first time a move needs it (a wave's containers
        wait for one pull instead of each asking the registry)."""
        key = f"{target.name}@{target.digest}"
        with self._pull_lock:
            if key not in self._pulled:
                self.engine.pull(target)
                self._pulled.add(key)

    def _updater(self) -> LiveUpdater:
        h = self.env.gates.health
        grace = Probes(grace=h.grace.total_seconds(), timeout=h.timeout.total_seconds())
        return _EnvUpdater(
            self,
            self.engine,
            self.history,
            probes=grace,
            stop_timeout=self.env.stop_timeout,
            locks=self.locks,
        )

    def digest_of(self, name: str) -> str | None:
        """The digest container ``name`` runs now (None: no such container, or unknown)."""
        try:
            return self.engine.info(name).digest
        except EngineError:
            return None

    def digest_after(self, name: str, moved: LiveResult | None) -> str | None:
        """The digest container ``name`` runs after ``moved``: the target's when the move
        completed (the new container was created from the image pulled by that digest and
        passed the gate), else as the engine says now."""
        if moved is not None and moved.outcome in (LiveOutcome.UPDATED, LiveOutcome.REVERTED):
            return moved.to_digest
        return self.digest_of(name)

    def recover(self) -> list[LiveResult]:
        """Complete or undo replacements a killed run left half-done on this engine (a
        candidate is kept only when it passes this environment's health gate)."""
        return self._updater().recover()

    # -- health -------------------------------------------------------------------------
    def probes_for(self, container: str, doc: dict[str, Any] | None = None) -> Probes:
        """The environment's health probes with ``{port:N}`` and ``{name}`` filled in (from
        ``doc``, the container's inspect document, when given)."""
        h = self.env.gates.health
        doc = doc if doc is not None else self.engine.inspect(container)
        return Probes(
            http_url=_fill(h.http, doc) if h.http else None,
            http_status=h.status,
            tcp=_fill(h.tcp, doc) if h.tcp else None,
            grace=h.grace.total_seconds(),
            timeout=h.timeout.total_seconds(),
        )

    def check_all(self, names: Sequence[str], restarts: dict[str, int]) -> str | None:
        """One soak check of every container in ``names`` (a few at a time): the first
        problem, or None. ``restarts`` holds the restart counts seen first."""
        if len(names) <= 1:
            return next((p for n in names if (p := self.check(n, restarts))), None)
        if self._soak_pool is None:  # one pool for every check of the run (not one per check)
            self._soak_pool = ThreadPoolExecutor(8, thread_name_prefix="pw-soak")
        problems = list(self._soak_pool.map(lambda n: self.check(n, restarts), names))
        return next((p for p in problems if p), None)

    def close(self) -> None:
        with self._prepared_lock:
            left, self._prepared = self._prepared, {}
        for prepared in left.values():  # an unused candidate never outlives the run
            with contextlib.suppress(EngineError):
                self.engine.remove(prepared.candidate, force=True)
            prepared.lock.close()
        if self._soak_pool is not None:
            self._soak_pool.shutdown()
            self._soak_pool = None
        self._http.close()

    def check(self, name: str, restarts: dict[str, int]) -> str | None:
        """One soak check of container ``name``: None when well, else what is wrong.
        ``restarts`` holds the restart count seen first (filled on the first call)."""
        try:
            doc = self.engine.inspect(name)
        except EngineError as exc:
            return f"{name}: {exc.message}"
        state = doc.get("State") or {}
        count = int(doc.get("RestartCount") or 0)
        first = restarts.setdefault(name, count)
        if count != first:
            return f"{name} restarted ({count - first} time(s)) during the soak"
        if not state.get("Running"):
            return f"{name} is not running (exit code {state.get('ExitCode')})"
        health = str((state.get("Health") or {}).get("Status") or "")
        if health == "unhealthy":
            return f"{name}: the engine HEALTHCHECK reports unhealthy"
        with span("probe"):
            return _probe(self.probes_for(name, doc), self._http)


class _EnvUpdater(LiveUpdater):
    """The live updater with the environment's probes filled in for each new container
    (``{port:N}`` differs from container to container)."""

    def __init__(self, target: EngineTarget, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._target = target

    def _gate(self, container: str) -> GateResult:
        return run_gate(self.engine, container, self._target.probes_for(container))


def _fill(text: str, doc: dict[str, Any]) -> str:
    name = str(doc.get("Name", "")).lstrip("/")
    out = text.replace("{name}", name)
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    bindings = (doc.get("HostConfig") or {}).get("PortBindings") or {}
    for placeholder, port in port_placeholders(text):
        bound = [b for b in (ports.get(port) or bindings.get(port) or []) if b.get("HostPort")]
        if not bound:
            raise UsageError(
                f"{placeholder} in the health gate: container {name} "
                f"publishes no host port for {port}",
                "publish the port (-p) or use another probe in gates.health",
            )
        out = out.replace(placeholder, str(bound[0]["HostPort"]))
    return out


def _probe(probes: Probes, client: httpx.Client) -> str | None:
    if probes.http_url:
        try:
            res = client.get(probes.http_url)
        except httpx.HTTPError as exc:
            return f"GET {probes.http_url}: {type(exc).__name__}"
        if res.status_code != probes.http_status:
            return f"GET {probes.http_url} -> {res.status_code}, expected {probes.http_status}"
    if probes.tcp:
        host, _, port = probes.tcp.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), 3.0):
                pass
        except OSError as exc:
            return f"connect {probes.tcp}: {exc.strerror or type(exc).__name__}"
    return None


def target_ref(image: str, digest: str) -> ImageRef:
    return parse_reference(image).with_digest(digest)


def names_of(infos: Sequence[ContainerInfo]) -> list[str]:
    return [i.name for i in infos]
