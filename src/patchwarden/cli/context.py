"""What one command run knows about itself: whether ``--verbose`` was given, and which
configuration file it uses (recorded when the file is looked for; shown with ``--verbose``
and added to JSON output as ``"config"``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

NOT_LOOKED = object()  # the command reads no config file


@dataclass
class RunContext:
    verbose: bool = False
    config: Path | object | None = NOT_LOOKED


context = RunContext()


def start(verbose: bool) -> None:
    context.verbose, context.config = verbose, NOT_LOOKED


def note_config(path: Path | None, searched: str) -> None:
    """The config file this run uses (None: built-in defaults, after searching ``searched``)."""
    context.config = path
    if context.verbose:
        where = str(path.resolve()) if path is not None else f"none found ({searched}): defaults"
        sys.stderr.write(f"config: {where}\n")


def config_for_json() -> dict[str, str | None]:
    """``{"config": path}`` for JSON output, when this command looked for a config file."""
    if context.config is NOT_LOOKED:
        return {}
    path = context.config
    return {"config": str(path.resolve()) if isinstance(path, Path) else None}
