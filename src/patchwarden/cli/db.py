"""``patchwarden db``: build and refresh the offline vulnerability advisory index."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from patchwarden.app.serialize.db import age_seconds, import_dict, status_dict, update_dict
from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    OutputFormat,
    ProgressOpt,
    emit_json,
    err,
    load_settings,
    out,
    progress_bar,
    user_errors,
)
from patchwarden.cli.report import reporting
from patchwarden.config.schema import Config
from patchwarden.core.words import plural
from patchwarden.errors import ExitCode

if TYPE_CHECKING:
    from patchwarden.advisories.importer import ImportReport

MiB = 1024 * 1024

HELP = """Manage the offline vulnerability advisory index (OSV records in a local SQLite file).

The index lives in the user data directory (advisories.db); choose another file with --db,
$PATCHWARDEN_ADVISORY_DB or advisories.db_path in patchwarden.yaml. See docs/commands/db.md.

\b
  patchwarden db update                       # fetch every configured ecosystem from OSV
  patchwarden db import ./osv-records/ all.zip # load local records (air-gapped setups)
  patchwarden db status --format json
"""

db_app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        dir_okay=False,
        metavar="FILE",
        help="Advisory index file. Default: $PATCHWARDEN_ADVISORY_DB, advisories.db_path, "
        "else advisories.db in the user data directory.",
    ),
]


def _settings(config: Path | None, db: Path | None) -> tuple[Config, Path]:
    from patchwarden.advisories.dbpath import resolve_db_path

    cfg, _ = load_settings(config, [])
    return cfg, resolve_db_path(db, cfg.advisories.db_path)


def _warn_malformed(report: ImportReport) -> None:
    for where, reason in report.malformed[:20]:
        err.print(f"warning: skipped {where}: {reason}", markup=False)
    if len(report.malformed) > 20:
        err.print(f"warning: ... and {len(report.malformed) - 20} more malformed records")
    if report.malformed:
        err.print(f"warning: {len(report.malformed)} malformed record(s) skipped", markup=False)


@db_app.command(
    "import",
    help="""Import OSV records from directories, .json files, all.zip dumps or URLs.

Also imports CVSS scores from NVD CVE API 2.0 JSON (API responses, NVD 2.0 feeds) and CVE JSON
5.x records (cvelistV5): findings that no OSV record rates take their severity from these.
Directories are searched recursively for *.json (and *.zip). All sources go in one
transaction: if any source cannot be read (missing path, a file that is not a zip, a corrupt
archive, a failed download) nothing is imported and the index stays as it was. A malformed
record is skipped with a warning naming its file. A record already in the index is replaced
only by a copy with a newer `modified`.

Exit codes: 0 imported; 2 a source is missing or unreadable; 3 a download failed.

\b
  patchwarden db import ./osv/Debian/ ./osv/PyPI/all.zip
  patchwarden db import https://osv-vulnerabilities.storage.googleapis.com/Alpine/all.zip
  patchwarden db import nvdcve-2.0-2024.json ./cvelistV5/cves/2024/   # severity sources
""",
)
@reporting()
def import_cmd(
    sources: Annotated[list[str], typer.Argument(metavar="PATH|URL...", show_default=False)],
    db: DbOpt = None,
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    progress: ProgressOpt = True,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.advisories.importer import import_sources
        from patchwarden.app.wiring import open_advisory_index

        cfg, path = _settings(config, db)
        with (
            open_advisory_index(path, create=True) as index,
            progress_bar(progress, "importing records") as tick,
        ):
            report = import_sources(
                index,
                sources,
                max_bytes=cfg.advisories.max_download_mb * MiB,
                progress=lambda done, total: tick(done, total or 0),
            )
        _warn_malformed(report)
        if format == OutputFormat.json:
            emit_json(import_dict(path, report))
        else:
            out.print(
                f"imported into {path}: {report.added} new, {report.replaced} updated, "
                f"{report.unchanged} unchanged, {len(report.malformed)} malformed"
                + (f", {report.cve_scores} CVSS scores from NVD/CVE" if report.cve_scores else ""),
                markup=False,
            )


@db_app.command(
    "update",
    help="""Download new and changed advisories for the configured ecosystems.

The first update of an ecosystem downloads <base_url>/<Ecosystem>/all.zip; later ones read
<base_url>/<Ecosystem>/modified_id.csv and fetch only records modified since the last update.
Each ecosystem is updated in its own transaction: a failure (offline, HTTP error) leaves it
as it was and the index stays usable.

Exit codes: 0 all updated; 3 some ecosystems could not be updated (each says why).

\b
  patchwarden db update
  patchwarden db update --ecosystem Debian --ecosystem PyPI
""",
)
@reporting()
def update_cmd(
    ecosystem: Annotated[
        list[str] | None,
        typer.Option(
            "--ecosystem",
            "-e",
            metavar="NAME",
            help="OSV ecosystem to update (repeatable). Default: advisories.ecosystems.",
        ),
    ] = None,
    db: DbOpt = None,
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    progress: ProgressOpt = True,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.advisories.update import update
        from patchwarden.app.wiring import open_advisory_index

        cfg, path = _settings(config, db)
        ecosystems = ecosystem or cfg.advisories.ecosystems
        with (
            open_advisory_index(path, create=True) as index,
            progress_bar(progress, "updating advisories") as tick,
        ):
            results = update(
                index,
                ecosystems,
                base_url=cfg.advisories.base_url,
                max_bytes=cfg.advisories.max_download_mb * MiB,
                progress=lambda what, done, total: tick(done, total or 0),
            )
        failed = [r for r in results if r.error]
        if format == OutputFormat.json:
            emit_json(update_dict(path, results))
        for r in results:
            if r.error:
                err.print(f"error: {r.ecosystem}: {r.error}", markup=False)
            elif format == OutputFormat.table:
                out.print(
                    f"{r.ecosystem}: {r.mode}, {r.report.added} new, "
                    f"{r.report.replaced} updated, {len(r.report.malformed)} malformed",
                    markup=False,
                )
            _warn_malformed(r.report)
        raise typer.Exit(int(ExitCode.ERRORS if failed else ExitCode.OK))


def _human(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


@db_app.command(
    "status",
    help="""Show what the advisory index holds: per ecosystem, the record count, when it was
last imported or updated, how long ago, and where from.

Exit codes: 0 shown; 2 there is no index yet (run `patchwarden db update`).

\b
  patchwarden db status
  patchwarden db status --format json | jq '.ecosystems[] | select(.age_seconds > 86400)'
""",
)
@reporting()
def status_cmd(
    db: DbOpt = None,
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.wiring import open_advisory_index

        _, path = _settings(config, db)
        with open_advisory_index(path) as index:
            rows = index.status()
            total = index.record_count()
        if format == OutputFormat.json:
            emit_json(status_dict(path, total, rows))
            return
        from patchwarden.cli.rows import print_rows

        cells = [
            [
                row.ecosystem,
                str(row.record_count),
                row.imported_at or "-",
                _human(age_seconds(row.imported_at)),
                row.source_url or "-",
            ]
            for row in rows
        ]
        headers = ("ecosystem", "records", "last update", "age", "source")
        print_rows(headers, cells, title=f"{path} ({plural(total, 'record')})")


def register(app: typer.Typer) -> None:
    app.add_typer(
        db_app, name="db", help="Build and refresh the offline vulnerability advisory index."
    )
