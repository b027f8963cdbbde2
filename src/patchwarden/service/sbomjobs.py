"""The ``scan`` and ``advisory-refresh`` job kinds.

``scan``: the SBOM of every known image (running containers first, then the current image of
every file reference: the digest its check recorded, else the one its tag names now, so an
outdated reference's image, what runs now, is scanned too; ``repositories``: of those only)
that is not stored yet is read once,
through the layer cache, and stored with its first match (a baseline: nothing in it is
"new"). Results are keyed by image digest and advisory index version: an image stored and
matched with the current index is not read again (by any worker: the image's lock in the
state store makes a second worker wait for the first one's result); one matched with an
older index is matched again from its stored packages, and what it gained is alerted as
``advisory-refresh`` does.

``advisory-refresh``: ``db update`` of the configured ecosystems, then every stored SBOM is
re-matched without reading a layer; each image that gained vulnerabilities at or above
``serve.alert_severity`` raises one ``new-vulnerability`` alert ("a new CVE affects running
image X"), de-duplicated per image and set of new ids. The references running an image get its
new counts by severity (overview, ``/metrics``).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from patchwarden.config.serve import Event
from patchwarden.errors import PatchwardenError
from patchwarden.service.result import JobResult, Params

if TYPE_CHECKING:
    from patchwarden.app.refresh import ImageMatch
    from patchwarden.core.ref import ImageRef
    from patchwarden.service.jobs import Context
    from patchwarden.store.fleet import FleetItem

log = logging.getLogger("patchwarden.service.jobs")


def _known_images(
    ctx: Context, params: Params, limit: int, resolve: Callable[[ImageRef], str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(digest, reference) of the images to scan, at most ``limit``; and the references whose
    tag could not be resolved, with why."""
    explicit = params.get("images")
    if explicit:
        from patchwarden.core.ref import parse_reference

        out = []
        for text in explicit:
            ref = parse_reference(str(text))
            if ref.digest is None:
                raise PatchwardenError(
                    f"scan job: {text!r} has no digest", "name images as REPO@sha256:..."
                )
            out.append((ref.digest, f"{ref.name}@{ref.digest}"))
        return list(dict(out).items())[:limit], []
    items = ctx.fleet.fleet(limit=10_000_000)
    repos = params.get("repositories")
    if repos is not None:
        wanted = {str(r) for r in repos}
        items = [i for i in items if i.repository in wanted]
    return fleet_images(items, limit, resolve)


def resolvable(item: FleetItem) -> bool:
    """A file reference with a tag and no recorded digest whose check did not fail."""
    return (
        item.current_digest is None
        and bool(item.current_tag)
        and not item.key.startswith("container:")
        and item.status != "error"
    )


def fleet_images(
    items: Sequence[FleetItem], limit: int, resolve: Callable[[ImageRef], str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The current image of every reference, once per digest, running containers first: the
    digest its check recorded, else (a file reference whose check did not resolve one: an
    outdated tag is reported with its candidate's digest only) the digest its tag names now,
    asked once per tag. A reference whose check failed is left to that error."""
    from patchwarden.core.ref import parse_reference

    ordered = sorted(items, key=lambda i: (not i.key.startswith("container:"), i.key))
    seen: dict[str, str] = {}
    tags: dict[str, str | None] = {}
    failed: list[tuple[str, str]] = []
    for i in ordered:
        if len(seen) >= limit:
            break
        digest = i.current_digest
        if digest is None and resolvable(i):
            text = f"{i.repository}:{i.current_tag}"
            if text not in tags:
                try:
                    tags[text] = resolve(parse_reference(text))
                except PatchwardenError as exc:
                    tags[text] = None
                    failed.append((text, exc.message))
            digest = tags[text]
        if digest and digest not in seen:
            seen[digest] = f"{i.repository}@{digest}"
    return list(seen.items()), failed


def run_scan(ctx: Context, params: Params) -> JobResult:
    from patchwarden.app.refresh import store_sboms
    from patchwarden.app.wiring import build_advisory_index
    from patchwarden.registry.model import Platform

    if ctx.sboms is None or ctx.scan_pipeline is None:
        raise PatchwardenError("scan job: no SBOM store in this process")
    pipeline = ctx.scan_pipeline()
    images, unresolved = _known_images(ctx, params, int(params.get("max", 200)), pipeline.resolve)
    index = build_advisory_index(ctx.config)
    locks = _scan_locks(ctx)
    try:
        res = store_sboms(
            pipeline,
            ctx.sboms,
            images,
            Platform.parse(ctx.config.platform),
            index,
            locks=locks,
        )
    finally:
        if index is not None:
            index.close()
    res.failed[:0] = unresolved
    for ref, why in res.failed:
        log.warning("scan job: %s: %s", ref, why)
    alerts = sum(_alert(ctx, m) for m in res.rematched if m.added)
    summary = f"{len(res.scanned)} images scanned, {res.known} already stored"
    if res.rematched:
        summary += f", {len(res.rematched)} re-matched (new advisory index; {alerts} alerts)"
    if res.failed:
        summary += f", {len(res.failed)} failed ({res.failed[0][0]}: {res.failed[0][1]})"
    if index is None:
        summary += "; no advisory index yet (run the advisory-refresh job)"
    data = {
        "scanned": res.scanned,
        "known": res.known,
        "rematched": [m.image for m in res.rematched],
        "failed": [list(f) for f in res.failed],
    }
    if res.failed and not res.scanned and not res.known and not res.rematched:
        raise PatchwardenError(summary)
    return JobResult(summary, alerts, data)


def _scan_locks(ctx: Context) -> Any:
    """One lock per image digest in the state store, shared by every worker (None: a store
    that cannot hold locks across processes, an in-memory one)."""
    from patchwarden.store.locks import run_owner

    make = getattr(ctx.history, "container_locks", None)
    return make("image-scan", run_owner("scan job")) if make is not None else None


def run_advisory_refresh(ctx: Context, params: Params) -> JobResult:
    from patchwarden.app.refresh import refresh_and_rematch
    from patchwarden.app.wiring import build_advisory_index, build_index_update

    if ctx.sboms is None:
        raise PatchwardenError("advisory-refresh job: no SBOM store in this process")
    update = build_index_update(ctx.config) if params.get("update", True) else None
    index = build_advisory_index(ctx.config, create=True)
    if index is None:  # create=True always opens one
        raise PatchwardenError("advisory-refresh job: the advisory index could not be opened")
    try:
        res = refresh_and_rematch(index, ctx.sboms, update)
    finally:
        index.close()
    counts = {
        m.digest: dict(Counter(v["severity"] for v in m.findings.values())) for m in res.images
    }
    ctx.fleet.set_vulns(counts)
    alerts = sum(_alert(ctx, m) for m in res.added)
    failed = [f"{e}: {err}" for e, _mode, err in res.updates if err]
    summary = (
        f"{len(res.images)} stored SBOMs re-matched in {res.seconds_matching:.2f}s; "
        f"{len(res.added)} images gained vulnerabilities; {alerts} alerts"
    )
    if failed:
        summary += "; update failed for " + "; ".join(failed)
    return JobResult(summary, alerts, res.as_dict())


def _alert(ctx: Context, m: ImageMatch) -> int:
    from patchwarden.scan.model import Severity, UnknownSeverity, at_least

    threshold = Severity(ctx.config.serve.alert_severity)
    unknown = UnknownSeverity(ctx.config.advisories.unknown_severity)
    wanted = [v for v in m.added if at_least(m.severity(v), threshold, unknown)]
    if not wanted:
        return 0
    users = ctx.fleet.by_digest([m.digest])
    containers = sorted(i.key.split(":", 1)[1] for i in users if i.key.startswith("container:"))
    files = sorted(i.source for i in users if not i.key.startswith("container:"))
    where = (
        f"running image {m.image} (containers: {', '.join(containers)})"
        if containers
        else f"image {m.image}" + (f" (referenced in {', '.join(files[:5])})" if files else "")
    )
    first = wanted[0]
    title = (
        f"new {first} affects {where.split(' (')[0]}"
        if len(wanted) == 1
        else f"{len(wanted)} new vulnerabilities affect {where.split(' (')[0]}"
    )
    lines = [
        f"{v} ({m.findings[v]['severity']}): {', '.join(m.findings[v]['packages'])}"
        + (f" - {m.findings[v]['summary']}" if m.findings[v].get("summary") else "")
        for v in wanted
    ]
    body = f"{where}\n" + "\n".join(lines)
    key = m.digest + ":" + hashlib.sha256(",".join(wanted).encode()).hexdigest()[:16]
    ctx.fleet.audit("serve", "new-vulnerability", m.image, ", ".join(wanted)[:900])
    fields = {
        "image": m.image,
        "digest": m.digest,
        "where": where,
        "ids": ", ".join(wanted),
        "count": len(wanted),
        "details": "\n".join(lines),
    }
    ctx.notifier.notify(Event.NEW_VULNERABILITY, key, title, body, fields)
    return 1
