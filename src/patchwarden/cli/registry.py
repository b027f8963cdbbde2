"""``patchwarden registry``: the team's central registry (promote, retain, tags)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    OutputFormat,
    TimeoutOpt,
    emit_json,
    err,
    escape,
    load_settings,
    out,
    user_errors,
)
from patchwarden.cli.report import reporting

if TYPE_CHECKING:
    from patchwarden.app.trust.policy import TrustGate
    from patchwarden.registry.client import RegistryClient

HELP = """The central registry: copy images into and through it by digest (promote), keep
the last versions for rollback and audit and delete the rest, never what is deployed (retain),
and list what is there (tags). See docs/commands/registry.md."""

PROMOTE_HELP = """Copy SRC to DST by digest, with its signatures and other referrers.

SRC is repository:tag, repository@digest or repository:tag@digest; DST is repository[:tag]
(default: SRC's tag). On the same registry blobs are mounted across repositories (nothing is
uploaded); otherwise they are streamed and their digests checked. Multi-arch indexes are
copied whole. The destination tag is written last, after every blob and manifest is in place,
so an interrupted promotion leaves no tag; running it again resumes and is idempotent.

With trust: rules in patchwarden.yaml the source must verify (fail closed), and both sides
must be inside registries.allowed. Each promotion is recorded in the state store.

Environments: --from-env ENV replaces SRC with the repository of ENV's registry target in
patchwarden.yaml (environments: - name: ENV, registry: {repository, tag, immutable}), with its
tag, or the TAG / @DIGEST you give; --to-env ENV replaces DST (ENV's tag, else the source's;
immutable: true there acts as --immutable).

Exit codes: 0 promoted (or already there); 2 bad usage; 3 registry error or a tag that
--immutable protects; 6 refused by the trust policy.

Examples:

\b
  patchwarden registry promote ghcr.io/acme/app:1.4.2 registry.example.com/prod/app
  patchwarden registry promote reg.example.com/dev/app@sha256:... \\
      reg.example.com/prod/app:1.4.2 --immutable
  patchwarden registry promote --from-env staging --to-env prod 1.4.2
"""

TAGS_HELP = """List the tags of REPO (cosign signature tags left out unless --all).

--digests adds each tag's manifest digest (one HEAD per tag); --created adds the creation
date from the image config (for an index: the configured platform's image).

Exit codes: 0 listed; 2 bad usage; 3 registry error."""

StateOpt = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="URL|PATH",
        envvar="PATCHWARDEN_STATE",
        help="State store: SQLite path or SQLAlchemy URL (default: see docs/state-store.md).",
    ),
]

registry_app = typer.Typer(help=HELP, no_args_is_help=True)


def _actor() -> str:
    try:
        return os.environ.get("PATCHWARDEN_ACTOR") or getpass.getuser()
    except Exception:
        return "unknown"


@registry_app.command("promote", help=PROMOTE_HELP)
@reporting()
def promote(
    args: list[str] | None = typer.Argument(
        None, metavar="SRC DST", help="Source and destination (see --from-env/--to-env)."
    ),
    from_env: str | None = typer.Option(
        None,
        "--from-env",
        metavar="ENV",
        envvar="PATCHWARDEN_REGISTRY_PROMOTE_FROM_ENV",
        help="Source: the registry of this environment of patchwarden.yaml (replaces SRC).",
    ),
    to_env: str | None = typer.Option(
        None,
        "--to-env",
        metavar="ENV",
        envvar="PATCHWARDEN_REGISTRY_PROMOTE_TO_ENV",
        help="Destination: the registry of this environment (replaces DST).",
    ),
    immutable: bool = typer.Option(
        False,
        "--immutable",
        envvar="PATCHWARDEN_REGISTRY_PROMOTE_IMMUTABLE",
        help="Never move an existing destination tag to another digest.",
    ),
    state: StateOpt = None,
    no_record: bool = typer.Option(
        False, "--no-record", help="Do not record the promotion in the state store."
    ),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.serialize.registry import promote_dict
        from patchwarden.core.ref import parse_reference

        if from_env is None and to_env is None and len(args or []) == 2:
            source, dest = (parse_reference(a) for a in args or [])
        else:
            from patchwarden.app.promote.envs import resolve

            cfg, _ = load_settings(config, [Path.cwd()])
            ends = resolve(cfg, args or [], from_env, to_env)
            source, dest = ends.source, ends.destination
            immutable = immutable or ends.immutable
        from patchwarden.app.wiring import build_promoter

        client, gate = _client_and_gate(config)
        with client, build_promoter(
            client, gate, state=state, record=not no_record, actor=_actor()
        ) as promoter:
            result = promoter.promote(source, dest, immutable=immutable)
        if format == OutputFormat.json:
            emit_json(promote_dict(result))
            return
        s = result.stats
        out.print(f"[bold green]{result.outcome}[/] {escape(result.reason)}")
        if result.platforms:
            out.print(f"  platforms: {', '.join(result.platforms)}")
        out.print(
            f"  blobs: {s.blobs_uploaded} uploaded ({s.bytes_uploaded} bytes), "
            f"{s.blobs_mounted} mounted, {s.blobs_present} already there; "
            f"manifests: {s.manifests} written, {s.manifests_present} already there"
        )
        if s.referrers:
            out.print(f"  signatures/referrers: {len(s.referrers)} copied")
        if result.verification:
            out.print(f"  trust: {escape(result.verification.reason)}")


def _client_and_gate(config: Path | None) -> tuple[RegistryClient, TrustGate | None]:
    """Without a config file: a plain client and no gate, without loading pydantic (start-up
    time is part of every promotion's cost)."""
    from patchwarden.app.wiring import build_client, build_trust_gate
    from patchwarden.cli.common import find_settings

    if find_settings(config, [Path.cwd()]) is None:
        return build_client(None), None
    cfg, _ = load_settings(config, [Path.cwd()])
    client = build_client(cfg)
    return client, build_trust_gate(cfg, client)


@registry_app.command("tags", help=TAGS_HELP)
@reporting()
def tags(
    repo: str = typer.Argument(..., metavar="REPO"),
    digests: bool = typer.Option(False, "--digests", help="Show each tag's digest."),
    created: bool = typer.Option(
        False, "--created", help="Show creation dates (implies --digests)."
    ),
    all_tags: bool = typer.Option(False, "--all", help="Include cosign signature tags."),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.retain.tags import list_tags
        from patchwarden.app.serialize.registry import tags_dict
        from patchwarden.app.wiring import build_client
        from patchwarden.core.ref import parse_reference

        cfg, _ = load_settings(config, [Path.cwd()], timeout=timeout)
        ref = parse_reference(repo)
        with build_client(cfg) as client:
            infos = list_tags(
                client, ref, digests=digests or created, created=created, artifacts=all_tags
            )
        if format == OutputFormat.json:
            emit_json(tags_dict(ref.name, infos))
            return
        for i in infos:
            cols = [i.tag]
            if digests or created:
                cols.append(i.digest or f"? ({i.error})")
            if created:
                cols.append(i.created.isoformat() if i.created else "-")
            out.print("  ".join(cols), markup=False)
        if not infos:
            err.print(f"{ref.name} has no tags")


def register(app: typer.Typer) -> None:
    from patchwarden.cli.retain import register_retain

    register_retain(registry_app)
    app.add_typer(registry_app, name="registry")
