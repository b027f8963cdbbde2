"""The ``registry retain`` use case over several repositories."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from patchwarden.app.retain.plan import RetainPlan, RetainRules, execute, plan
from patchwarden.app.retain.protect import Protected, from_engine, from_history, from_paths, merge
from patchwarden.app.retain.tags import list_tags
from patchwarden.config.schema import Config
from patchwarden.core.ref import parse_reference


def retain_repos(
    config: Config,
    repos: Sequence[str],
    *,
    keep_last: int,
    keep_days: float | None,
    keep_tags: str | None,
    dry_run: bool,
    paths: Sequence[Path],
    engine: str | None,
    state: str | None,
    keep_rollback: int,
) -> list[RetainPlan]:
    from patchwarden.app.wiring import build_client
    from patchwarden.store import open_store

    rules = RetainRules(keep_last, keep_days, keep_tags)
    refs = [parse_reference(r) for r in repos]
    with open_store(state) as store:
        history = store.history(limit=10_000)
    containers = None
    if engine:
        from patchwarden.engine.client import connect

        containers = connect(engine)
    plans = []
    with build_client(config) as client:
        for ref in refs:
            protected: Protected = merge(
                from_paths(paths, config, ref) if paths else {},
                from_engine(containers, ref, engine or "") if containers is not None else {},
                from_history(history, ref, keep_rollback),
            )
            infos = list_tags(client, ref, digests=True, created=True)
            p = plan(ref, infos, rules, protected)
            if not dry_run:
                execute(client, ref, p)
            plans.append(p)
    return plans
