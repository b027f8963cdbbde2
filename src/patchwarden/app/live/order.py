"""Running the selected containers' updates in dependency order.

A container waits for the containers it depends on that come earlier in the order (a cycle is
broken where the order breaks it) and is skipped when one of them rolled back or failed, or was
itself skipped for that reason; up to ``concurrency`` containers are updated at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from patchwarden.app.live.model import LiveResult, untouched
from patchwarden.core.live import LiveOutcome
from patchwarden.engine.info import ContainerInfo

Work = Callable[[ContainerInfo], LiveResult | None]


def run_in_order(
    selected: Sequence[ContainerInfo],
    deps: dict[str, set[str]],
    work: Work,
    *,
    concurrency: int,
    skip_blocked: bool,
) -> dict[str, LiveResult | None]:
    """Container name -> what ``work`` returned for it (or why it was skipped)."""
    waits = _waits(selected, deps)
    finished: dict[str, LiveResult | None] = {}
    blocked: dict[str, str] = {}  # skipped for a dependency -> the root cause

    def guarded(info: ContainerInfo) -> LiveResult | None:
        if skip_blocked:
            skipped = _skip(info, waits[info.name], finished, blocked)
            if skipped is not None:
                return skipped
        return work(info)

    if concurrency == 1 or len(selected) <= 1:
        for info in selected:
            finished[info.name] = guarded(info)
    else:
        _run_parallel(selected, waits, guarded, finished, concurrency)
    return finished


def _waits(selected: Sequence[ContainerInfo], deps: dict[str, set[str]]) -> dict[str, list[str]]:
    """Container name -> the dependencies it waits for: only those earlier in the order."""
    position = {info.name: i for i, info in enumerate(selected)}
    return {
        info.name: sorted(
            d for d in deps[info.name] if position.get(d, len(selected)) < position[info.name]
        )
        for info in selected
    }


def _skip(
    info: ContainerInfo,
    waits: list[str],
    finished: dict[str, LiveResult | None],
    blocked: dict[str, str],
) -> LiveResult | None:
    """``info`` skipped when a dependency it waited for was not updated; otherwise None."""
    for d in waits:
        dep = finished.get(d)
        if d in blocked:
            why = f"dependency {d} was not updated ({blocked[d]})"
        elif dep is not None and dep.outcome in (LiveOutcome.ROLLED_BACK, LiveOutcome.FAILED):
            why = f"dependency {d} {dep.outcome}"
        else:
            continue
        blocked[info.name] = blocked.get(d, f"{d} {getattr(dep, 'outcome', '')}")
        return untouched(
            info.name, info.image, info.digest, LiveOutcome.SKIPPED, f"{why}: not updated"
        )
    return None


def _run_parallel(
    selected: Sequence[ContainerInfo],
    waits: dict[str, list[str]],
    work: Work,
    finished: dict[str, LiveResult | None],
    concurrency: int,
) -> None:
    """Up to ``concurrency`` containers at once; each after its dependencies finished."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    pending = list(selected)
    running: dict[Future[LiveResult | None], str] = {}
    with ThreadPoolExecutor(concurrency, thread_name_prefix="pw-engine") as pool:
        while pending or running:
            for info in list(pending):
                if len(running) >= concurrency:
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
