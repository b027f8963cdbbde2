"""Where a Dockerfile writes its global ``ARG`` defaults and where it uses a variable: what
``update`` needs to move a reference built from an ARG (see :mod:`patchwarden.apply.variables`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchwarden.refs.dockerfile_lex import NAME_RE, TOKEN_RE, logical_instructions


@dataclass(frozen=True, slots=True)
class ArgDefault:
    """Where a global ``ARG NAME=value`` writes its default: 1-based line and column of the
    value's first character (inside quotes), and the value as written."""

    name: str
    line: int
    column: int
    text: str


def global_arg_defaults(text: str) -> tuple[dict[str, ArgDefault | None], str]:
    """The global ARGs (before the first FROM): name -> its last default as written (None when
    declared without one), and the file's escape character."""
    instructions, escape = logical_instructions(text)
    out: dict[str, ArgDefault | None] = {}
    for instr in instructions:
        tokens = [(m.group(0), m.start()) for m in TOKEN_RE.finditer(instr.text)]
        if not tokens:
            continue
        keyword = tokens[0][0].upper()
        if keyword == "FROM":
            break
        if keyword != "ARG":
            continue
        for word, offset in tokens[1:]:
            name, eq, value = word.partition("=")
            if not NAME_RE.fullmatch(name):
                continue
            if not eq:
                out.setdefault(name, None)
                continue
            start = offset + len(name) + 1
            if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
                value, start = value[1:-1], start + 1
            line, column = instr.position(start)
            out[name] = ArgDefault(name, line, column, value)
    return out, escape


def variable_uses(text: str, name: str) -> list[tuple[int, int]]:
    """1-based (line, column) of every ``$name`` / ``${name...}`` in the file (comments too:
    a use in a comment is still a use a reader relies on)."""
    pattern = re.compile(r"\$(?:\{" + re.escape(name) + r"(?=[}:+-])|" + re.escape(name) + r"\b)")
    out: list[tuple[int, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        out.extend((number, m.start() + 1) for m in pattern.finditer(line))
    return out
