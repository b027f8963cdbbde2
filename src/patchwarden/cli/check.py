"""``patchwarden check``: which images are stale, and the right update for each."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from pathlib import Path

import typer
from rich.padding import Padding
from rich.text import Text

from patchwarden.app.check import CheckReport, CheckResult, Status
from patchwarden.app.serialize.check import check_dict
from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    ExcludeOpt,
    FormatOpt,
    OutputFormat,
    PathsArg,
    ProgressOpt,
    emit_json,
    err,
    escape,
    load_settings,
    out,
    progress_bar,
    resolve_paths,
    user_errors,
    warn_vulns,
)
from patchwarden.core.digest import short_hex
from patchwarden.core.text import printable
from patchwarden.core.words import plural
from patchwarden.errors import ExitCode
from patchwarden.policy.model import UpdateLevel

HELP = """Check every image reference against its registry and say what to update.

For each reference: the current tag and digest, the newest tag the policy allows (keeping the
tag's suffix and precision: node:18-alpine -> 20-alpine, never 20.1.0-alpine or 20-bookworm),
the kind of update (digest, patch, minor, major) and the reason. Floating tags such as latest
or stable are followed by digest: a tag that moved upstream, or a tag@digest pin whose tag now
points elsewhere, is reported as a digest update.

Policies (allowed update level, include/exclude patterns, minimum age, pinning, platform) come
from patchwarden.yaml; see docs/configuration.md.

With trust: rules in patchwarden.yaml, every candidate's signature is verified (fail closed)
and a candidate without an acceptable one is reported as blocked, with what was expected and
what was found; references outside registries.allowed are blocked too.

Exit codes: 0 all good; 1 --fail-on matched; 2 bad usage or configuration; 3 some
references could not be checked (registry errors; the others are still reported); 6 a
candidate or reference was blocked by the trust policy.

Examples:

\b
  patchwarden check                          # the current directory
  patchwarden check deploy/ --fail-on minor  # CI gate: fail on minor or major updates
  patchwarden check --format json | jq '.results[] | select(.status=="outdated")'
"""


class FailOn(StrEnum):
    outdated = "outdated"
    major = "major"
    minor = "minor"
    patch = "patch"
    digest = "digest"


_STATUS_STYLE = {
    Status.OUTDATED: "yellow",
    Status.UP_TO_DATE: "green",
    Status.ERROR: "red",
    Status.SKIPPED: "dim",
    Status.BLOCKED: "red",
}


def check(
    paths: PathsArg = None,
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    fail_on: FailOn | None = typer.Option(
        None,
        "--fail-on",
        envvar="PATCHWARDEN_FAIL_ON",
        show_envvar=True,
        case_sensitive=False,
        help="Exit 1 when an update of at least this kind exists "
        "(outdated = any update, including digest).",
    ),
    exclude: ExcludeOpt = None,
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        envvar="PATCHWARDEN_CACHE_DIR",
        metavar="DIR",
        help="Cache directory (default: the user cache dir, or cache.dir).",
    ),
    vulns: bool = typer.Option(
        False,
        "--vulns",
        help="Scan current and candidate images: CVEs each update fixes and introduces; "
        "prefer the smallest update that fixes the most (needs an advisory index: db update).",
    ),
    db: Path | None = typer.Option(
        None, "--db", metavar="FILE", help="Advisory index for --vulns (default: see db status)."
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        envvar="PATCHWARDEN_NO_CACHE",
        help="Do not read or write the on-disk cache.",
    ),
    show_requests: bool = typer.Option(
        False, "--show-requests", help="Print registry requests by kind on stderr."
    ),
    progress: ProgressOpt = True,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.inventory import run_inventory
        from patchwarden.app.wiring import build_checker

        roots = resolve_paths(paths)
        cfg, _ = load_settings(config, roots)
        inv = run_inventory(roots, cfg, extra_excludes=exclude or [])
        checker = build_checker(
            cfg, vulns=vulns, db=db, cache_dir=cache_dir, use_cache=not no_cache
        )
        warn_vulns(checker)
        with progress_bar(
            progress and format == OutputFormat.table, "checking repositories"
        ) as tick:
            report = checker.run(inv, progress=tick)
        if checker.tags is not None and checker.tags.problem:
            err.print(f"warning: {escape(checker.tags.problem)}")
        if format == OutputFormat.json:
            emit_json(check_dict(report))
        else:
            render_check(report)
        if show_requests:
            err.print(
                "registry requests: "
                + ", ".join(f"{k}={v}" for k, v in sorted(report.requests.items()))
            )
        raise typer.Exit(int(exit_code(report, fail_on)))


def exit_code(report: CheckReport, fail_on: FailOn | None) -> ExitCode:
    if report.count(Status.ERROR):
        return ExitCode.ERRORS
    if report.count(Status.BLOCKED):
        return ExitCode.UNTRUSTED
    if fail_on is not None:
        floor = UpdateLevel.DIGEST if fail_on == FailOn.outdated else UpdateLevel(fail_on.value)
        if any(r.update is not None and r.update >= floor for r in report.results):
            return ExitCode.FINDINGS
    return ExitCode.OK


_GROUPS = (
    (Status.BLOCKED, "Blocked by trust policy"),
    (Status.OUTDATED, "Outdated"),
    (Status.ERROR, "Could not check"),
    (Status.UP_TO_DATE, "Up to date"),
    (Status.SKIPPED, "Skipped"),
)


def _short(digest: str | None) -> str:
    return f"@{short_hex(digest)}" if digest else ""


def _change(r: CheckResult) -> str:
    current = (r.current.tag or "") + _short(r.current.digest)
    if r.candidate is None:
        return current
    if r.update == UpdateLevel.DIGEST:
        return f"{r.current.tag}{_short(r.current.digest)} -> {_short(r.candidate.digest)[1:]}"
    return f"{current} -> {r.candidate.tag}{_short(r.candidate.digest)}"


def render_check(report: CheckReport) -> None:
    """Results grouped by status: one aligned line per reference, its reason indented below."""
    for status, title in _GROUPS:
        rows = [r for r in report.results if r.status == status]
        if not rows:
            continue
        style = _STATUS_STYLE[status]
        out.print(f"[bold {style}]{title} ({len(rows)})[/]")
        loc_w = max(len(f"{r.reference.file}:{r.reference.line}") for r in rows)
        img_w = min(48, max(len(r.reference.ref.familiar_name) for r in rows))
        for r in rows:
            loc = f"{r.reference.file}:{r.reference.line}"
            line = Text("  ")
            line.append(printable(loc.ljust(loc_w)))
            line.append("  ")
            line.append(r.reference.ref.familiar_name.ljust(img_w), style="bold")
            line.append("  ")
            line.append(printable(_change(r)))
            if r.update:
                line.append(f"  {r.update}", style=style)
            out.print(line, overflow="fold")
            out.print(Padding(Text(printable(r.reason), style="dim"), (0, 0, 0, 4), expand=False))
            if r.vulns is not None:
                out.print(
                    Padding(Text(r.vulns.summary(), style="magenta"), (0, 0, 0, 4), expand=False)
                )
    kinds = Counter(r.update for r in report.results if r.update)
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[0].rank))
    summary = (
        f"{plural(len(report.results), 'reference')}: {report.count(Status.OUTDATED)} outdated"
        + (f" ({detail})" if detail else "")
        + (f", {report.count(Status.BLOCKED)} blocked" if report.count(Status.BLOCKED) else "")
        + f", {report.count(Status.UP_TO_DATE)} up to date, "
        f"{report.count(Status.ERROR)} could not be checked, {report.count(Status.SKIPPED)} skipped"
    )
    if report.skipped:
        summary += (
            f"; {len(report.skipped)} place(s) could not be resolved (see `patchwarden inventory`)"
        )
    out.print(summary)


def register(app: typer.Typer) -> None:
    app.command(name="check", help=HELP)(check)
