"""The ``patchwarden`` command: a thin Typer shell over the use cases in :mod:`patchwarden.app`.

Start-up is part of every command's cost (a warm ``scan`` does ~0.1 s of work), so only the
command being run is imported: ``patchwarden scan ...`` never loads the modules of ``check``,
``update`` or ``engine``. The root help, an unknown command and the full :data:`app` (for
tests) register every command.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import typer

from patchwarden import __version__
from patchwarden.core import timing

ROOT_HELP = (
    "Keep container images patched: find every image reference (inventory), check "
    "registries for newer tags and moved digests under per-image policies (check), scan images "
    "for known vulnerabilities (scan, db), apply updates through git (update), "
    "live-update running containers with health gates and rollback (engine), verify image "
    "signatures (verify), promote, retain and list images in a central registry (registry), "
    "rebuild your own images when their base moved or fixes are available (rebuild), "
    "patch OS packages of an image as one new layer (patch), and carry one digest through "
    "staged environments in gated waves (rollout). "
    "See docs/ for every command."
)

# name -> module; each module has ``register(app)``. The order is the order in --help.
COMMANDS: dict[str, str] = {
    "inventory": "patchwarden.cli.inventory",
    "check": "patchwarden.cli.check",
    "db": "patchwarden.cli.db",
    "scan": "patchwarden.cli.scan",
    "update": "patchwarden.cli.update",
    "engine": "patchwarden.cli.engine",
    "version": "patchwarden.cli.version",
    "verify": "patchwarden.cli.verify",
    "sign": "patchwarden.cli.sign",
    "registry": "patchwarden.cli.registry",
    "rebuild": "patchwarden.cli.rebuild",
    "patch": "patchwarden.cli.patch",
    "rollout": "patchwarden.cli.rollout",
    "serve": "patchwarden.cli.serve",
    "worker": "patchwarden.cli.worker",
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"patchwarden {__version__}")
        raise typer.Exit()


def _root(
    # not named `version`: Click's default_map would give it the `version` command's flags:
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    from patchwarden.cli import context

    context.start(verbose=False)  # nothing carried over from an earlier command in-process


def build_app(names: Iterable[str] | None = None) -> typer.Typer:
    """The Typer app with the given commands (all of them by default)."""
    app = typer.Typer(
        name="patchwarden",
        help=ROOT_HELP,
        no_args_is_help=True,
        add_completion=True,  # --install-completion, --show-completion (docs/completion.md)
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        # Every option can also be set from the environment: PATCHWARDEN_<COMMAND>_<OPTION>
        # (e.g. PATCHWARDEN_ENGINE_UPDATE_CONCURRENCY); the common ones have short names too
        # (PATCHWARDEN_FORMAT, PATCHWARDEN_FAIL_ON, ...; see docs/environment.md).
        context_settings={
            "help_option_names": ["-h", "--help"],
            "auto_envvar_prefix": "PATCHWARDEN",
        },
    )
    app.callback()(_root)
    wanted = set(COMMANDS if names is None else names)
    for name, module in COMMANDS.items():
        if name in wanted:
            importlib.import_module(module).register(app)
    return app


def requested_command(argv: Sequence[str]) -> str | None:
    """The command named on the command line, if it is one of ours (root options take no
    values, so it is the first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main() -> None:
    timing.mark("cli.main")
    name = requested_command(sys.argv[1:])
    app = build_app(None if name is None else [name])
    # the name in usage lines and of shell completion's variable, _PATCHWARDEN_COMPLETE,
    # however the program was started (`python -m patchwarden.cli.main` included)
    try:
        defaults = _flag_defaults(app, sys.argv[1:])
    except typer.Exit as exc:  # a bad flags: section, already reported
        raise SystemExit(exc.exit_code) from None
    try:
        app(prog_name="patchwarden", default_map=defaults)
    finally:
        # Every object still alive goes to the collector's permanent generation: the
        # interpreter's last full collection at exit then skips them (~0.5 s with the
        # store, engine and HTTP modules loaded). Output is already written and closed; the
        # atexit handlers still run.
        gc.freeze()


def _flag_defaults(app: typer.Typer, argv: Sequence[str]) -> dict[str, Any] | None:
    """Option defaults from the config file's ``flags:`` (:mod:`patchwarden.cli.flags`)."""
    from patchwarden.cli.common import user_errors
    from patchwarden.cli.flags import default_map, read_flags

    with user_errors():
        flags, path = read_flags(argv)
        if not flags or path is None:
            return None
        return default_map(typer.main.get_command(app), flags, path, list(COMMANDS))
    return None  # not reached: user_errors exits


def __getattr__(attr: str) -> Any:  # PEP 562: ``from patchwarden.cli.main import app``
    if attr == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(attr)


if __name__ == "__main__":
    main()
