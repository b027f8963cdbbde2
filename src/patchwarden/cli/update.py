"""``patchwarden update``: apply what ``check`` proposes, in place or on branches with PRs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from patchwarden.app.check import Status
from patchwarden.app.update import Grouping, UpdateAction, plan_groups, verify_pins
from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    ExcludeOpt,
    FormatOpt,
    OutputFormat,
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
from patchwarden.errors import ExitCode

if TYPE_CHECKING:
    from patchwarden.app.update import Outcome

HELP = """Apply the updates `check` proposes: minimal edits of the image references only.

Every edit changes just the tag (and, with --pin-digest or an existing pin, the digest) at
its exact place; comments, quoting, indentation and line endings stay byte for byte. Each
edited file is parsed again and must read the new reference, or nothing is written. Files
are written atomically, all or nothing.

Modes:

\b
  --dry-run          print the unified diff (and the pull-request body); change nothing
  (default)          rewrite the files in the working tree
  --commit           one branch per group (patchwarden/<image>), committed in a temporary
                     worktree: your checkout and uncommitted work are never touched
  --push             push the branches (--force-with-lease); re-runs update them
  --pull-request     open or update one pull request per branch (GitHub, GitLab, Gitea);
                     token from PATCHWARDEN_FORGE_TOKEN or GITHUB_TOKEN/GITLAB_TOKEN/GITEA_TOKEN

References built from variables are moved where their value is written: a Dockerfile
`ARG NODE=18` default (only when every use of that ARG is an image this update moves), a
compose `${TAG:-1.2}` default, a literal tag after `${REGISTRY}/`. A reference that cannot
be written is reported as skipped with the reason and never holds back the others.

On a detached HEAD (CI checkouts) --commit bases the branches on --base, else on
GITHUB_BASE_REF, CI_MERGE_REQUEST_TARGET_BRANCH_NAME or CI_DEFAULT_BRANCH. Commits are
authored as the repository's git user (or GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL), unless
`git.author` in patchwarden.yaml says otherwise.

Re-running is idempotent: an unchanged branch is left as it is; a branch whose versions the
base branch already has is deleted and its pull request closed.

Exit codes: 0 done; 2 bad usage or configuration (or no base branch on a detached HEAD);
3 some groups failed or left files out (an untracked or locally edited file; the rest of the
group is still committed); 5 done, but some references were skipped (each with its reason).

Examples:

\b
  patchwarden update --dry-run
  patchwarden update deploy/ --pin-digest
  patchwarden update --commit --push --pull-request --group image
"""


def update(
    path: Path = typer.Argument(
        Path("."), metavar="[PATH]", help="Directory to update (default: .)."
    ),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    exclude: ExcludeOpt = None,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the diff and PR body; change nothing."
    ),
    pin_digest: bool = typer.Option(
        False, "--pin-digest", help="Write tag@sha256:... (refreshes existing pins always)."
    ),
    group: Grouping = typer.Option(
        Grouping.image, "--group", help="One branch per image, per file, or all in one."
    ),
    commit: bool = typer.Option(False, "--commit", help="Commit each group on its own branch."),
    push: bool = typer.Option(False, "--push", help="Push the branches (implies --commit)."),
    pull_request: bool = typer.Option(
        False, "--pull-request", help="Open/update a PR per branch (implies --push)."
    ),
    remote: str = typer.Option("origin", "--remote", help="Git remote to push to."),
    prune: bool = typer.Option(
        False,
        "--prune",
        help="Delete superseded update branches (locally, and on the remote with --push) "
        "instead of keeping them; merged ones are always deleted.",
    ),
    base: str | None = typer.Option(
        None,
        "--base",
        help="Base branch (default: the current branch; on a detached HEAD GITHUB_BASE_REF, "
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME or CI_DEFAULT_BRANCH).",
    ),
    forge: str | None = typer.Option(
        None, "--forge", help="github, gitlab or gitea (default: from the remote's host)."
    ),
    forge_url: str | None = typer.Option(
        None,
        "--forge-url",
        metavar="URL",
        help="The repository's web URL on the forge (default: the remote's URL).",
    ),
    forge_api: str | None = typer.Option(
        None, "--forge-api", metavar="URL", help="API base URL for self-hosted forges."
    ),
    vulns: bool = typer.Option(
        False,
        "--vulns",
        help="Choose and explain updates by the CVEs they fix (see check --vulns).",
    ),
    db: Path | None = typer.Option(
        None, "--db", metavar="FILE", help="Advisory index for --vulns."
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", envvar="PATCHWARDEN_CACHE_DIR", metavar="DIR", help="Cache directory."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", envvar="PATCHWARDEN_NO_CACHE", help="Do not use the on-disk cache."
    ),
    progress: ProgressOpt = True,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug, json_output=format == OutputFormat.json):
        from patchwarden.app.inventory import run_inventory
        from patchwarden.app.serialize.update import update_dict
        from patchwarden.app.update import Schedule, UpdateOptions
        from patchwarden.app.wiring import build_checker, build_forge, build_updater

        roots = resolve_paths([path])
        cfg, _ = load_settings(config, roots)
        push = push or pull_request
        commit = commit or push
        window_note = None
        if cfg.schedule is not None and not dry_run:
            window_note = Schedule(cfg.schedule.cron, cfg.schedule.timezone).closed_note()
            dry_run = window_note is not None
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
        groups, notes = plan_groups(report.results, group, pin_digest=pin_digest)
        groups, unverified = verify_pins(groups, checker.registry.get_manifest)
        forge_client = None
        if pull_request and not dry_run:
            forge_client = build_forge(
                path, remote=remote, url=forge_url, kind=forge, api_url=forge_api
            )
        updater = build_updater(
            checker,
            path,
            UpdateOptions(
                dry_run=dry_run,
                commit=commit,
                push=push,
                remote=remote,
                base=base,
                pull_request=pull_request,
                prune=prune,
                author=cfg.git.author,
            ),
            forge=forge_client,
        )
        outcomes = updater.run(groups)
        errors = [r for r in report.results if r.status == Status.ERROR] + unverified
        blocked = [r for r in report.results if r.status == Status.BLOCKED]
        notes += [f"{r.reference.file}:{r.reference.line} blocked: {r.reason}" for r in blocked]
        if format == OutputFormat.json:
            if window_note:
                notes.insert(0, window_note)
            emit_json(update_dict(outcomes, notes, errors, updater.stale))
        else:
            if window_note:
                err.print(f"[yellow]{escape(window_note)}[/]")
            _render(outcomes, notes, errors, dry_run)
            for branch, action in updater.stale:
                out.print(f"{escape(branch)}: {action}")
        failed = any(o.action == UpdateAction.FAILED or o.left_out for o in outcomes)
        failed = failed or bool(errors)
        skipped = any(o.skipped for o in outcomes)
        code = (
            ExitCode.ERRORS
            if failed
            else ExitCode.UNTRUSTED
            if blocked
            else ExitCode.SKIPPED
            if skipped
            else ExitCode.OK
        )
        raise typer.Exit(int(code))


_STYLE = {
    UpdateAction.FAILED: "red",
    UpdateAction.MERGED: "dim",
    UpdateAction.UNCHANGED: "dim",
    UpdateAction.SKIPPED: "yellow",
}


def _render(outcomes: list[Outcome], notes: list[str], errors: list[Any], dry_run: bool) -> None:
    if not outcomes:
        out.print("Nothing to update.")
    for o in outcomes:
        style = _STYLE.get(o.action, "green")
        out.print(
            f"[bold]{escape(o.group.title)}[/]  [{style}]{o.action}[/]  ({escape(o.group.branch)})"
        )
        for m in o.group.moves:
            out.print(
                f"  {escape(m.change.reference.file)}:{m.change.reference.line}"
                f"  {escape(m.summary)}"
            )
        if o.error:
            out.print(f"  [red]{escape(o.error)}[/]")
        for f, why in o.left_out:
            out.print(f"  [yellow]left out[/] {escape(f)}: {escape(why)}")
        for sk in o.skipped:
            ref = sk.change.reference
            out.print(
                f"  [yellow]skipped[/] {escape(ref.file)}:{ref.line} {escape(ref.image)}: "
                f"{escape(sk.reason)}"
            )
        if o.commit:
            out.print(f"  commit {short_hex(o.commit)}" + ("  pushed" if o.pushed else ""))
        if o.pull_request:
            out.print(f"  pull request: {escape(o.pull_request)}")
        if dry_run and o.diff:
            out.print(escape(o.diff), markup=True, highlight=False, soft_wrap=True)
            out.print("[bold]Pull request body:[/]")
            out.print(escape(o.body), soft_wrap=True)
    for n in notes:
        err.print(f"note: {escape(n)}")
    for e in errors:
        err.print(
            f"[red]could not check[/] {escape(e.reference.file)}:{e.reference.line}: "
            f"{escape(e.reason)}"
        )


def register(app: typer.Typer) -> None:
    app.command(name="update", help=HELP)(update)
