"""The ``patchwarden`` command: a thin Typer shell over the use cases in :mod:`patchwarden.app`."""

from __future__ import annotations

import typer

from patchwarden import __version__
from patchwarden.cli import check as check_cmd
from patchwarden.cli import inventory as inventory_cmd
from patchwarden.cli import scan as scan_cmd
from patchwarden.cli import update as update_cmd
from patchwarden.cli.db import db_app
from patchwarden.cli.engine import engine_app

app = typer.Typer(
    name="patchwarden",
    help="Keep container images patched: find every image reference (inventory), check "
    "registries for newer tags and moved digests under per-image policies (check), scan images "
    "for known vulnerabilities (scan, db), apply updates through git (update), and "
    "live-update running containers with health gates and rollback (engine). "
    "See docs/ for every command.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command(name="inventory", help=inventory_cmd.HELP)(inventory_cmd.inventory)
app.command(name="check", help=check_cmd.HELP)(check_cmd.check)
app.add_typer(db_app, name="db", help="Build and refresh the offline vulnerability advisory index.")
app.command(name="scan", help=scan_cmd.HELP)(scan_cmd.scan)
app.command(name="update", help=update_cmd.HELP)(update_cmd.update)
app.add_typer(engine_app, name="engine", help="Live-update containers: health gate, rollback.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"patchwarden {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
