"""BuildKit's variable forms in a Dockerfile (``$V``, ``${V}``, ``${V:-w}``, ``${V-w}``,
``${V:+w}``, ``${V+w}``) expanded from the global ``ARG`` defaults, and the reasons a reference
cannot be resolved (an ARG set only by ``--build-arg``, a platform ARG, an undeclared name)."""

from __future__ import annotations

import re
import shlex

from patchwarden.refs.dockerfile_lex import NAME_RE

# ARGs the builder defines in the global scope for every platform it builds.
_PLATFORM_ARGS = frozenset(
    f"{prefix}{what}"
    for prefix in ("BUILD", "TARGET")
    for what in ("PLATFORM", "OS", "ARCH", "VARIANT")
)


class Unresolved(Exception):
    """A variable reference that cannot be expanded; the message says why."""


def expand(text: str, variables: dict[str, str | None], escape: str = "\\") -> str:
    """Expand ``$V``, ``${V}``, ``${V:-w}``, ``${V-w}``, ``${V:+w}``, ``${V+w}``.

    ``variables`` maps declared ARGs to their default (None: declared without default).
    Raises :class:`Unresolved` with a user-facing reason.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == escape and i + 1 < n and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if c != "$":
            out.append(c)
            i += 1
            continue
        if i + 1 < n and text[i + 1] == "{":
            depth, j = 1, i + 2
            while j < n and depth:
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                raise Unresolved(f"unterminated variable reference in {text!r}")
            inner = text[i + 2 : j - 1]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?", inner, re.S)
            if not m:
                raise Unresolved(f"unsupported variable expression ${{{inner}}}")
            name, op, word = m.group(1), m.group(2), m.group(3) or ""
            out.append(_apply(name, op, word, variables, escape))
            i = j
            continue
        m = NAME_RE.match(text, i + 1)
        if not m:
            out.append("$")
            i += 1
            continue
        out.append(_apply(m.group(0), None, "", variables, escape))
        i = m.end()
    return "".join(out)


def _apply(
    name: str, op: str | None, word: str, variables: dict[str, str | None], escape: str
) -> str:
    declared = name in variables
    value = variables.get(name)
    if op is None:
        if value is not None:
            return value
        if declared:
            raise Unresolved(f"variable {name} has no default (set by --build-arg at build time)")
        if name in _PLATFORM_ARGS:
            raise Unresolved(f"variable {name} is set by the builder for each target platform")
        raise Unresolved(
            f"variable {name} is not declared by an ARG before the first FROM "
            "(the builder expands it to an empty string)"
        )
    if op == ":-":
        return value if value else expand(word, variables, escape)
    if op == "-":
        return value if value is not None else expand(word, variables, escape)
    if op == ":+":
        return expand(word, variables, escape) if value else ""
    return expand(word, variables, escape) if value is not None else ""  # "+"


def parse_arg(body: str, variables: dict[str, str | None], escape: str) -> None:
    try:
        words = shlex.split(body, posix=True)
    except ValueError:
        words = body.split()
    for word in words:
        name, eq, value = word.partition("=")
        if not NAME_RE.fullmatch(name):
            continue
        if not eq:
            variables.setdefault(name, None)
            continue
        try:
            variables[name] = expand(value, variables, escape)
        except Unresolved:
            variables[name] = None
