"""What every command shares: output format, consoles, config loading, error handling."""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from patchwarden.core.jsonfmt import pretty
from patchwarden.errors import ExitCode, PatchwardenError, UsageError

if TYPE_CHECKING:  # loaded by the commands that need them (start-up time)
    from rich.console import Console

    from patchwarden.config.schema import Config


_TRAILING = re.compile(r"[ \t]+(?=\n)")
PIPE_WIDTH = 100_000  # piped stdout: lines are never wrapped (grep, awk and less see them whole)


class _PipedStdout:
    """``sys.stdout`` (looked up on each write) without the trailing spaces rich pads lines
    with: what a pipe gets."""

    def write(self, text: str) -> int:
        sys.stdout.write(_TRAILING.sub("", text))
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def isatty(self) -> bool:
        return False


class _LazyConsole:
    """A rich Console made on first use: importing rich.console costs ~15 ms of every start,
    and a JSON run to a pipe never prints through it. With ``piped``, a stdout that is not a
    terminal gets lines that are never wrapped and have no trailing spaces."""

    def __init__(self, *, piped: bool = False, **options: Any) -> None:
        self._options = options
        self._piped = piped
        self._console: Console | None = None
        self.quiet = False  # --quiet (set_quiet): print() does nothing; errors use real_console

    def print(self, *args: Any, **kwargs: Any) -> None:
        if not self.quiet:
            self.console.print(*args, **kwargs)

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            options = dict(self._options)
            isatty = getattr(sys.stdout, "isatty", None)
            if self._piped and not (isatty is not None and isatty()):
                options.update(file=_PipedStdout(), width=PIPE_WIDTH)
            self._console = Console(**options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


def real_console(c: Console) -> Console:
    """The Console itself, for rich APIs that take one (``Progress(console=...)``)."""
    return c.console if isinstance(c, _LazyConsole) else c


out = cast("Console", _LazyConsole(piped=True, highlight=False, soft_wrap=False))
err = cast("Console", _LazyConsole(stderr=True, highlight=False))

F = TypeVar("F", bound=Callable[..., Any])


def set_quiet(quiet: bool) -> bool:
    """``--quiet``: stderr's ``print`` does nothing (errors still show); the previous value."""
    lazy = cast(_LazyConsole, err)
    previous, lazy.quiet = lazy.quiet, quiet
    return previous


def is_quiet() -> bool:
    return cast(_LazyConsole, err).quiet


def swap_out(console: Console | None) -> Console | None:
    """Replace stdout's console (None: a new one on next use, for another ``sys.stdout``)."""
    lazy = cast(_LazyConsole, out)
    previous = lazy._console
    lazy._console = console
    return previous


def escape(text: str) -> str:
    """For a terminal: controls made visible (text from images and registries may carry escape
    sequences) and rich's markup escaped (rich.markup imported on first use: ~13 ms)."""
    from rich.markup import escape as rich_escape

    from patchwarden.core.text import printable

    return rich_escape(printable(text))


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        envvar="PATCHWARDEN_FORMAT",
        show_envvar=True,
        case_sensitive=False,
        help="table for people, json for machines (stable schema, see docs/json-output.md).",
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        dir_okay=False,
        metavar="FILE",
        help="patchwarden.yaml to use. Default: $PATCHWARDEN_CONFIG, else patchwarden.yaml in the "
        "current directory or in the first PATH.",
    ),
]
PathsArg = Annotated[
    list[Path] | None,
    typer.Argument(
        metavar="[PATH]...",
        help="Files or directories to search (default: the current directory).",
        show_default=False,
    ),
]
ProgressOpt = Annotated[
    bool,
    typer.Option(
        "--progress/--no-progress",
        envvar="PATCHWARDEN_PROGRESS",
        show_envvar=True,
        help="Show a progress bar on stderr (only on a terminal).",
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        "-x",
        metavar="PATTERN",
        help="gitignore-style pattern to skip (repeatable); adds to discovery.exclude.",
    ),
]
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug",
        envvar="PATCHWARDEN_DEBUG",
        show_envvar=True,
        help="Show tracebacks for internal errors.",
    ),
]
StateOpt = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="URL|PATH",
        envvar="PATCHWARDEN_STATE",
        show_envvar=True,
        help="State store: SQLite path or SQLAlchemy URL (default: see docs/state-store.md).",
    ),
]


ExitCodeOpt = Annotated[
    int | None,
    typer.Option(
        "--exit-code",
        metavar="N",
        min=0,
        max=125,
        envvar="PATCHWARDEN_EXIT_CODE",
        show_envvar=True,
        help="Exit with N (0-125) instead of 1 when --fail-on finds something (0: report only, "
        "never fail). Errors keep their own codes.",
    ),
]


def findings_code(code: int, exit_code: int | None) -> int:
    """``code``, with ``--exit-code N`` in place of 1 (findings at the --fail-on threshold)."""
    return exit_code if code == ExitCode.FINDINGS and exit_code is not None else code


TimeoutOpt = Annotated[
    str | None,
    typer.Option(
        "--timeout",
        metavar="DURATION",
        envvar="PATCHWARDEN_TIMEOUT",
        show_envvar=True,
        help="Overall time limit of each registry request, e.g. 20s or 1m (a number is "
        "seconds); replaces the top-level timeout.overall of patchwarden.yaml "
        "(registries.HOST.timeout still rules its host). A registry that timed out is not "
        "asked again in the same run.",
    ),
]


def parse_timeout(text: str) -> float:
    """``--timeout``: seconds, more than 0 and at most an hour."""
    from patchwarden.core.durations import parse_duration

    try:
        seconds = float(text) if text.strip().replace(".", "", 1).isdigit() else None
        if seconds is None:
            seconds = parse_duration(text).total_seconds()
    except ValueError:
        raise UsageError(
            f"--timeout {text!r} is not a duration",
            "give a duration such as 20s, 1m or 1m30s, or a number of seconds (0.5)",
        ) from None
    if not 0 < seconds <= 3600:
        raise UsageError(
            f"--timeout {text!r} is out of range: it must be more than 0s and at most 1h",
            "give e.g. --timeout 20s",
        )
    return seconds


def with_timeout(cfg: Config, timeout: str | None) -> Config:
    """``cfg`` with ``--timeout`` as its top-level ``timeout.overall``."""
    if timeout is None:
        return cfg
    from datetime import timedelta

    overall = timedelta(seconds=parse_timeout(timeout))
    return cfg.model_copy(update={"timeout": cfg.timeout.model_copy(update={"overall": overall})})


def resolve_paths(paths: Sequence[Path] | None) -> list[Path]:
    paths = list(paths or [Path(".")])
    for p in paths:
        if not p.exists():
            raise PatchwardenError(
                f"path {p} does not exist",
                "pass files or directories that exist",
                exit_code=ExitCode.USAGE,
            )
    return paths


def find_settings(config: Path | None, paths: Sequence[Path]) -> Path | None:
    """The config file to use: --config, $PATCHWARDEN_CONFIG, or one found in the current
    directory or the first PATH; None when there is none."""
    from patchwarden.cli.context import note_config
    from patchwarden.config.locate import find_config

    dirs = [Path.cwd()] + [p for p in paths[:1] if p.is_dir()]
    found = find_config(config, dirs)
    searched = " and ".join(str(d) for d in dict.fromkeys(dirs))
    note_config(found, f"searched {searched} and their parents up to the repository root")
    return found


def load_settings(
    config: Path | None, paths: Sequence[Path], *, timeout: str | None = None
) -> tuple[Config, Path | None]:
    """The configuration (and its file, None: built-in defaults), with ``--timeout`` applied."""
    from patchwarden.config.loader import load_config

    path = find_settings(config, paths)
    cfg = with_timeout(load_config(path), timeout)
    cfg._source = path
    return cfg, path


def emit_json(data: Any) -> None:
    """``data`` as JSON on stdout, secrets masked; a mapping also names the config file used
    (``"config"``: its path, or null for built-in defaults) when the command read one."""
    from patchwarden.cli.context import config_for_json
    from patchwarden.net.redact import redact_known

    if isinstance(data, dict) and "config" not in data:
        data = {**data, **config_for_json()}
    sys.stdout.write(redact_known(pretty(data)))
    sys.stdout.flush()


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[int, int], None]]:
    if not (enabled and err.is_terminal) or is_quiet():
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=real_console(err),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def fail(exc: PatchwardenError) -> typer.Exit:
    from patchwarden.net.redact import redact_known

    message = redact_known(exc.message)
    console = real_console(err)  # shown even with --quiet
    console.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    if exc.hint:
        hint = escape(redact_known(exc.hint))
        console.print(f"[bold]hint:[/] {hint}", markup=True, highlight=False)
    return typer.Exit(int(exc.exit_code))


@contextmanager
def user_errors(debug: bool = False, *, json_output: bool = False) -> Iterator[None]:
    """Turn errors into a message + hint on stderr and the documented exit code; with
    ``json_output`` (``--format json``) stdout also gets ``{"error": {...}}``, so a pipeline
    reading JSON gets JSON on every failure, not an empty stdout."""
    try:
        yield
    except PatchwardenError as exc:
        if json_output:
            emit_json(
                {
                    "error": {
                        "message": exc.message,
                        "hint": exc.hint,
                        "exit_code": int(exc.exit_code),
                    }
                }
            )
        raise fail(exc) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug: say so plainly, keep the traceback behind --debug
        from patchwarden.net.redact import redact_known

        text = redact_known(str(exc))
        console = real_console(err)  # shown even with --quiet
        console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(text)}")
        console.print("This is a bug in patchwarden. Re-run with --debug and report the traceback.")
        if debug:
            console.print(redact_known(traceback.format_exc()), markup=False)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def warn_vulns(checker: Any) -> None:
    """Print the vulnerability assessor's warnings (stale index, expired ignore entries)."""
    if getattr(checker, "vulns", None) is not None:
        for warning in checker.vulns.warnings:
            err.print(f"[bold yellow]warning:[/] {escape(warning)}")
