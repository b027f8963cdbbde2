"""The ``registry retain`` use case over several repositories: rules from the command line
and from ``retention:`` in patchwarden.yaml (every rule whose ``match`` fits the repository)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from patchwarden.app.retain.plan import RetainPlan, RetainRules, execute, plan
from patchwarden.app.retain.protect import Protected, from_engine, from_history, from_paths, merge
from patchwarden.app.retain.tags import list_tags
from patchwarden.config.schema import Config
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import UsageError

if TYPE_CHECKING:
    from patchwarden.engine.client import EngineClient


@dataclass(frozen=True)
class CliRetention:
    """What the command line says (every field optional when config rules apply)."""

    keep_last: int | None = None
    keep_days: float | None = None
    keep_tags: str | None = None
    paths: Sequence[Path] = ()
    engine: str | None = None
    keep_rollback: int | None = None


@dataclass
class RepoRetention:
    """Everything that applies to one repository."""

    rules: list[RetainRules] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    engines: list[str] = field(default_factory=list)
    keep_rollback: int = 3


def _matches(ref: ImageRef, pattern: str) -> bool:
    return fnmatchcase(ref.name, pattern) or fnmatchcase(ref.familiar_name, pattern)


def retention_for(config: Config, ref: ImageRef, cli: CliRetention) -> RepoRetention:
    out = RepoRetention(paths=list(cli.paths), engines=[cli.engine] if cli.engine else [])
    rollback = [cli.keep_rollback] if cli.keep_rollback is not None else []
    if cli.keep_last is not None:
        out.rules.append(RetainRules(cli.keep_last, cli.keep_days, cli.keep_tags))
    elif cli.keep_days is not None or cli.keep_tags is not None:
        raise UsageError(
            "--keep-days and --keep-tags need --keep-last",
            "pass --keep-last N (0 keeps only what the other rules keep)",
        )
    for i, rule in enumerate(config.retention):
        if not _matches(ref, rule.match):
            continue
        tags = "|".join(f"(?:{t})" for t in rule.keep_tags) or None
        source = f"retention[{i}] (match: {rule.match})"
        out.rules.append(RetainRules(rule.keep_last, rule.keep_days, tags, source))
        out.paths += [Path(p) for p in rule.paths]
        if rule.engine and rule.engine not in out.engines:
            out.engines.append(rule.engine)
        rollback.append(rule.keep_rollback)
    if not out.rules:
        raise UsageError(
            f"no retention rule for {ref.name}: nothing says what to keep",
            "pass --keep-last N, or add a retention: rule matching it to patchwarden.yaml",
        )
    out.keep_rollback = max(rollback, default=3)
    return out


def retain_repos(
    config: Config,
    repos: Sequence[str],
    cli: CliRetention,
    *,
    dry_run: bool,
    state: str | None,
) -> list[RetainPlan]:
    from patchwarden.app.wiring import build_client
    from patchwarden.store import open_store

    refs = [parse_reference(r) for r in repos]
    wanted = {ref.name: retention_for(config, ref, cli) for ref in refs}  # usage errors first
    with open_store(state) as store:
        history = store.history(limit=10_000)
    engines: dict[str, EngineClient] = {}
    plans = []
    with build_client(config) as client:
        for ref in refs:
            r = wanted[ref.name]
            parts: list[Protected] = [from_history(history, ref, r.keep_rollback)]
            if r.paths:
                parts.append(from_paths(r.paths, config, ref))
            for url in r.engines:
                if url not in engines:
                    from patchwarden.engine.client import connect

                    engines[url] = connect(url)
                parts.append(from_engine(engines[url], ref, url))
            infos = list_tags(client, ref, digests=True, created=True)
            p = plan(ref, infos, r.rules, merge(*parts))
            if not dry_run:
                execute(client, ref, p)
            plans.append(p)
    return plans
