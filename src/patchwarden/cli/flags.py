"""Defaults for command-line options from the config file's ``flags:`` section, Trivy-style:
every option of every command can be set there, by command and option name::

    flags:
      scan: {severity: "high,critical", fail_on: high}
      check: {format: json}
      engine:
        update: {concurrency: 2}

Precedence: the command line, then the option's environment variable, then ``flags:``, then
the built-in default (Click's ``default_map``). The file is the one the command would use
(``--config``/``-c``, ``$PATCHWARDEN_CONFIG``, else found upward from the current directory);
it is only parsed when it has a top-level ``flags:`` line, so a command without one pays
nothing. Unknown commands and options are errors naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from patchwarden.errors import ConfigError

_HAS_FLAGS = re.compile(rb"^flags\s*:", re.MULTILINE)
HINT = "see docs/configuration.md (flags:); option names are the long ones of the command's help"


def config_argument(argv: Sequence[str]) -> Path | None:
    """The ``--config``/``-c`` value given on the command line, if any."""
    for i, word in enumerate(argv):
        if word in ("--config", "-c") and i + 1 < len(argv):
            return Path(argv[i + 1])
        if word.startswith("--config="):
            return Path(word.split("=", 1)[1])
    return None


def read_flags(argv: Sequence[str]) -> tuple[dict[str, Any], Path | None]:
    """The ``flags:`` mapping of the config file this command would read, and that file."""
    from patchwarden.config.locate import find_config

    try:
        path = find_config(config_argument(argv), [Path.cwd()])
    except ConfigError:
        return {}, None  # the command itself reports a missing --config file
    if path is None:
        return {}, None
    try:
        with path.open("rb") as fh:
            head = fh.read(1024 * 1024)
    except OSError:
        return {}, path
    if not _HAS_FLAGS.search(head):
        return {}, path
    from patchwarden.config.loader import plain_data, read_yaml

    data = plain_data(read_yaml(path, "config file", "fix the YAML syntax at that line"))
    flags = data.get("flags") if isinstance(data, dict) else None
    if flags is None:
        return {}, path
    if not isinstance(flags, dict):
        raise ConfigError(f"{path}: flags: must be a mapping of command names", HINT)
    return flags, path


def default_map(
    command: Any, flags: dict[str, Any], path: Path, all_commands: Sequence[str] = ()
) -> dict[str, Any]:
    """``flags`` checked against the commands and options that exist, as Click's default map
    (option names may be written with - or _). ``command`` is the Click command Typer built
    (a group has ``commands``; typer vendors its own Click, so this reads it by shape)."""
    known = set(all_commands)
    out: dict[str, Any] = {}
    for name, value in flags.items():
        if name not in command.commands and name in known:
            continue  # a command not loaded in this run (only the one named is): checked then
        if name not in command.commands:
            names = ", ".join(sorted(known or command.commands))
            raise ConfigError(f"{path}: flags.{name}: no such command (one of: {names})", HINT)
        out |= _check(command, {name: value}, path, "flags")
    return out


def _check(command: Any, flags: dict[str, Any], path: Path, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if getattr(command, "commands", None) is not None:
        for name, value in flags.items():
            sub = command.commands.get(name)
            if sub is None:
                names = ", ".join(sorted(command.commands))
                raise ConfigError(
                    f"{path}: {where}.{name}: no such command (one of: {names})", HINT
                )
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {where}.{name}: must be a mapping of options", HINT)
            out[name] = _check(sub, value, path, f"{where}.{name}")
        return out
    options = {p.name: p for p in command.params if p.param_type_name == "option" and p.name}
    for key, value in flags.items():
        name = key.replace("-", "_")
        if name not in options or name in ("help", "install_completion", "show_completion"):
            known = ", ".join(sorted(n for n in options if n != "help"))
            raise ConfigError(
                f"{path}: {where}.{key}: `patchwarden {where.split('.', 1)[1].replace('.', ' ')}` "
                f"has no option {key} (options: {known})",
                HINT,
            )
        out[name] = value
    return out
