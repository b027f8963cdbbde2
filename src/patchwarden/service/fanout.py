"""A whole-fleet ``check`` or ``scan`` on the worker fleet, in parts: the task that asked for
a check reads the inventory, drops what disappeared from the files, and queues one ``check``
per group of ``queue.shard_size`` repositories; the workers check the groups side by side
(each repository in exactly one group, so its tag list and manifests are asked for once per
run).

A whole-fleet ``scan`` likewise: one ``scan`` task per group of ``queue.shard_size``
repositories with a known image, a digest or a tag (an image shared by two groups is still
scanned once: its lock and its stored result are in the state store).

Without a broker, or when an engine is configured (its containers are checked as a whole), or
for a check an event already narrowed to some repositories, the check runs as it does in
process.
"""

from __future__ import annotations

from patchwarden.service.jobs import Context
from patchwarden.service.runner import Handler, Trigger
from patchwarden.service.sbomjobs import resolvable


def queue_parts(ctx: Context, job: str, trigger: Trigger, repos: list[str], shard_size: int) -> int:
    """Queue ``job`` once per ``shard_size`` of ``repos``; how many tasks."""
    assert ctx.submit is not None  # noqa: S101 - callers run only with a broker
    parts = [repos[i : i + shard_size] for i in range(0, len(repos), shard_size)]
    for n, part in enumerate(parts, 1):
        detail = f"{trigger.detail} (part {n}/{len(parts)})".strip()
        ctx.submit(job, Trigger(trigger.kind, detail, frozenset(part)))
    return len(parts)


class FanOutCheck:
    def __init__(self, ctx: Context, check: Handler, shard_size: int) -> None:
        self.ctx = ctx
        self.check = check
        self.shard_size = shard_size

    def __call__(self, trigger: Trigger) -> str:
        ctx = self.ctx
        if trigger.repositories is not None or ctx.submit is None or ctx.engine is not None:
            return self.check(trigger)
        inv = ctx.inventories.get(ctx.paths, ctx.config)
        pruned = ctx.fleet.prune("file:", (f"file:{r.file}:{r.line}" for r in inv.references))
        repos = sorted({r.ref.name for r in inv.references})
        parts = queue_parts(ctx, "check", trigger, repos, self.shard_size)
        return (
            f"{len(inv.references)} references in {len(repos)} repositories: "
            f"{parts} check tasks queued, {pruned} gone references dropped"
        )


class FanOutScan:
    def __init__(self, ctx: Context, scan: Handler, shard_size: int) -> None:
        self.ctx = ctx
        self.scan = scan
        self.shard_size = shard_size

    def __call__(self, trigger: Trigger) -> str:
        ctx = self.ctx
        if trigger.repositories is not None or ctx.submit is None:
            return self.scan(trigger)
        items = ctx.fleet.fleet(limit=10_000_000)
        repos = sorted({i.repository for i in items if i.current_digest or resolvable(i)})
        parts = queue_parts(ctx, "scan", trigger, repos, self.shard_size)
        return f"{len(repos)} repositories with known images: {parts} scan tasks queued"
