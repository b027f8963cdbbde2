"""What every command that prints a report shares: ``--output FILE`` (the report written
atomically: a reader never sees half of it, and a run that fails writes nothing), ``--quiet``
(no progress, warnings or step lines on stderr; errors still) and ``--verbose`` (what the run
uses: the config file; see :mod:`patchwarden.cli.context`), added by :func:`reporting`."""

from __future__ import annotations

import functools
import inspect
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from patchwarden.cli import context as run_context
from patchwarden.errors import ExitCode, PatchwardenError, UsageError

F = TypeVar("F", bound=Callable[..., Any])

OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        dir_okay=False,
        help="Write the report to FILE instead of stdout (atomically: written in full or not "
        "at all; a run that fails with exit 2 or 4 leaves FILE as it was).",
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        envvar="PATCHWARDEN_QUIET",
        show_envvar=True,
        help="No progress, warnings or step lines on stderr (errors are still shown).",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        envvar="PATCHWARDEN_VERBOSE",
        show_envvar=True,
        help="Say on stderr what the run uses (the config file, or that there is none).",
    ),
]


def reporting(*, output: bool = True) -> Callable[[F], F]:
    """Add ``--quiet``, ``--verbose`` and (``output``) ``--output FILE`` to a command."""

    def wrap(func: F) -> F:
        sig = inspect.signature(func, eval_str=True)
        extra = [
            inspect.Parameter(
                "quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=QuietOpt
            ),
            inspect.Parameter(
                "verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=VerboseOpt
            ),
        ]
        if output:
            extra.insert(
                0,
                inspect.Parameter(
                    "output", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=OutputOpt
                ),
            )
        params = [*sig.parameters.values(), *extra]

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            from patchwarden.cli.common import fail

            target = kwargs.pop("output", None) if output else None
            quiet, verbose = kwargs.pop("quiet", False), kwargs.pop("verbose", False)
            run_context.start(verbose)
            try:
                with _quiet(quiet), report_to(target):
                    return func(*args, **kwargs)
            except PatchwardenError as exc:  # the report could not be written
                raise fail(exc) from None

        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command  # type: ignore[return-value]

    return wrap


@contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    from patchwarden.cli.common import set_quiet

    previous = set_quiet(quiet)
    try:
        yield
    finally:
        set_quiet(previous)


@contextmanager
def report_to(path: Path | None) -> Iterator[None]:
    """Within the block, stdout is collected and, at the end, written to ``path`` atomically;
    when the run ends in a usage or internal error (exit 2 or 4), or printed nothing, the file
    is left alone and whatever was printed goes to stdout after all."""
    if path is None:
        yield
        return
    from patchwarden.cli.common import swap_out

    buffer = io.StringIO()
    saved_stdout, saved_console = sys.stdout, swap_out(None)  # a new console: plain text
    sys.stdout = buffer
    code: int = ExitCode.OK
    try:
        yield
    except typer.Exit as exc:
        code = exc.exit_code
        raise
    except BaseException:
        code = ExitCode.INTERNAL
        raise
    finally:
        sys.stdout = saved_stdout
        swap_out(saved_console)
        text = buffer.getvalue()
        if text and code not in (ExitCode.USAGE, ExitCode.INTERNAL):
            _write(path, text)
        elif text:
            sys.stdout.write(text)
            sys.stdout.flush()


def _write(path: Path, text: str) -> None:
    from patchwarden.core import files

    try:
        files.write_atomic(path, text)
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            "check the --output path (its directory must exist and be writable)",
        ) from None
