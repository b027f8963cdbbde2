"""The pull-request body: a table of changes a reviewer can act on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from patchwarden.app.update.plan import Group
from patchwarden.core.digest import short_hex


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What the registry says about a candidate image (from its config)."""

    created: datetime | None
    source: str | None  # org.opencontainers.image.source
    version: str | None = None  # org.opencontainers.image.version


def _age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return "unknown"
    days = (now - created).days
    return "today" if days <= 0 else f"{days} day{'s' if days != 1 else ''}"


def _release_link(facts: ImageFacts | None, tag: str | None) -> str:
    if facts is None or not facts.source:
        return ""
    src = facts.source.rstrip("/").removesuffix(".git")
    if src.startswith("https://github.com/") and tag:
        return f"[release notes]({src}/releases/tag/{tag})"
    return f"[source]({src})"


def render(
    group: Group,
    facts: Mapping[str, ImageFacts],
    now: datetime,
    vulnerability_section: str = "",
) -> str:
    """Markdown: one row per reference, then CVEs (when known), then how to re-run."""
    rows = [
        "| file | image | from | to | update | age of new image | notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in group.moves:
        r = m.result
        ref = r.reference
        new_tag = m.change.target.tag or ""
        digest = m.change.target.digest
        to = f"`{new_tag}`" + (f" `@{short_hex(digest)}`" if digest else "")
        key = f"{ref.ref.name}:{new_tag}"
        f = facts.get(key)
        rows.append(
            f"| `{ref.file}:{ref.line}` | `{ref.ref.familiar_name}` | `{r.current.tag or ''}` "
            f"| {to} | {r.update} | {_age(f.created if f else None, now)} "
            f"| {_release_link(f, new_tag)} |"
        )
    parts = [
        f"patchwarden proposes {len(group.moves)} image update(s).",
        "",
        *rows,
        "",
    ]
    section = vulnerability_section or vulnerability_table(group)
    if section:
        parts += [section, ""]
    reasons = sorted({m.result.reason for m in group.moves})
    parts += ["<details><summary>Why these versions</summary>", ""]
    parts += [f"- {r}" for r in reasons]
    parts += ["", "</details>", "", "Re-running `patchwarden update` refreshes this branch."]
    return "\n".join(parts) + "\n"


def vulnerability_table(group: Group) -> str:
    """CVEs fixed and introduced per change, with severities (from ``--vulns``)."""
    rows: list[str] = []
    for m in group.moves:
        a = m.result.vulns
        option = a.recommended if a is not None else None
        if option is None or m.change.target.tag != option.tag:
            continue
        image = m.result.reference.ref.familiar_name
        for f in sorted(option.fixed, key=lambda f: (-f.severity.rank, f.id)):
            rows.append(
                f"| fixed | {f.id} | {f.severity.value} | `{f.package.name}` "
                f"{f.installed_version} | `{image}` |"
            )
        for f in sorted(option.introduced, key=lambda f: (-f.severity.rank, f.id)):
            rows.append(
                f"| **introduced** | {f.id} | {f.severity.value} | `{f.package.name}` "
                f"{f.installed_version} | `{image}` |"
            )
    if not rows:
        return ""
    head = [
        "### Vulnerabilities",
        "",
        "| change | id | severity | package | image |",
        "| --- | --- | --- | --- | --- |",
    ]
    return "\n".join(head + rows)
